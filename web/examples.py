"""Examples for the OpenAPI document: one per request body and per resource, each valid
against its schema (tests/unit/web/test_web_openapi.py checks them)."""

from __future__ import annotations

from typing import Any

PAYMENT_ID = "5b4067a8-28a9-4cc5-b70a-f0fa51be710f"
REFUND_ID = "0de43449-042b-4d18-9ae4-f63963d597b9"
CREATED = "2026-12-06T16:31:42.862567+00:00"
SETTLED = "2026-12-06T16:31:43.104113+00:00"

PAYMENT_REQUEST: dict[str, Any] = {
    "user_name": "Ana Souza",
    "user_email": "ana@example.com",
    "event_id": "evt-rock-in-rio-2026",
    "event_name": "Rock in Rio",
    "event_amount": "125.50",
    "currency": "BRL",
    "payment_token": "tok_8f3a2c",
    "user_language": "pt-BR",
}
REFUND: dict[str, Any] = {
    "id": REFUND_ID,
    "payment_id": PAYMENT_ID,
    "amount": "25.50",
    "currency": "BRL",
    "reason": "requested_by_customer",
    "status": "SUCCEEDED",
    "failure_reason": None,
    "created_at": SETTLED,
    "updated_at": SETTLED,
}
PAYMENT: dict[str, Any] = {
    "id": PAYMENT_ID,
    "status": "SUCCESS",
    "user_name": "Ana Souza",
    "user_email": "ana@example.com",
    "user_language": "pt_BR",
    "event_id": "evt-rock-in-rio-2026",
    "event_name": "Rock in Rio",
    "event_description": None,
    "event_image_url": None,
    "amount": "125.50",
    "currency": "BRL",
    "amount_refunded": "25.50",
    "transaction": {
        "id": "a7dd1101-d36a-4f18-b463-78343896c3b8",
        "status": "SUCCESS",
        "reason": None,
        "created_at": CREATED,
        "updated_at": SETTLED,
        "gateway_reference": "pi_3QxYzAbCdEfGhIjK1a2b3c4d",
        "decline_code": None,
    },
    "next_action": None,
    "refunds": [REFUND],
    "created_at": CREATED,
    "updated_at": SETTLED,
}
REFUND_REQUEST: dict[str, Any] = {"amount": "25.50", "reason": "requested_by_customer"}
CANCELLATION_REQUEST: dict[str, Any] = {"reason": "Venue flooded"}
CANCELLATION: dict[str, Any] = {
    "event_id": "evt-rock-in-rio-2026",
    "status": "IN_PROGRESS",
    "reason": "Venue flooded",
    "payments": 3,
    "refunds_pending": 1,
    "refunds_succeeded": 2,
    "refunds_failed": 0,
    "amount_refunded": {"BRL": "251.00"},
    "created_at": CREATED,
    "updated_at": SETTLED,
}
PROBLEM: dict[str, Any] = {
    "type": "/problems/validation-error",
    "title": "Validation failed",
    "status": 422,
    "detail": "The request body has invalid fields.",
    "errors": [{"field": "event_amount", "message": "Must be greater than 0."}],
}
# component name -> its example
COMPONENTS: dict[str, dict[str, Any]] = {
    "PaymentRequest": PAYMENT_REQUEST,
    "Payment": PAYMENT,
    "Refund": REFUND,
    "RefundRequest": REFUND_REQUEST,
    "CancellationRequest": CANCELLATION_REQUEST,
    "Cancellation": CANCELLATION,
    "Problem": PROBLEM,
}
