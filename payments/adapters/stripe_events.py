"""Stripe's signed webhook events: the signature checked with the `stripe` library's own
verification (HMAC-SHA256 of `timestamp.payload`, compared in constant time, at most
TOLERANCE_S old), then read into the use case's `GatewayEvent`."""

from __future__ import annotations

import json
import uuid
from typing import Any
from uuid import UUID

import stripe

from payments.webhooks import GatewayEvent

TOLERANCE_S = 300


class BadSignature(Exception):
    """The request is not a webhook event Stripe signed with our secret, recently."""


def verified_event(payload: bytes, signature: str | None, secret: str) -> GatewayEvent:
    """The event if `signature` (the Stripe-Signature header) proves it; else BadSignature."""
    if not signature:
        raise BadSignature("no Stripe-Signature header")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, secret, TOLERANCE_S
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError:
        raise BadSignature("the signature does not match, or is too old") from None
    except (ValueError, UnicodeDecodeError):
        raise BadSignature("the payload is not a JSON event") from None
    if not isinstance(event, dict):
        raise BadSignature("the payload is not a JSON event")
    return event_of(event)


def event_of(event: dict[str, Any]) -> GatewayEvent:
    """Read the fields the use case needs from a Stripe event (PaymentIntent or Refund)."""
    data = (event.get("data") or {}).get("object") or {}
    metadata = data.get("metadata") or {}
    error = data.get("last_payment_error") or {}
    is_refund = data.get("object") == "refund"
    return GatewayEvent(
        id=str(event.get("id") or ""),
        type=str(event.get("type") or ""),
        reference=data.get("payment_intent") if is_refund else data.get("id"),
        transaction_id=_uuid(metadata.get("transaction_id")),
        refund_id=_uuid(metadata.get("refund_id")) if is_refund else None,
        status=data.get("status"),
        decline_code=error.get("decline_code"),
        error_code=error.get("code"),
    )


def _uuid(value: Any) -> UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
