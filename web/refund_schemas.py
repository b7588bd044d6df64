"""Marshmallow schemas of refunds and event cancellations (contract section 9)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, fields, validates_schema

from payments.domain.refund import RefundReason
from web.schemas import DOCUMENTED_AMOUNT_PATTERN, AmountField, text
from web.validation import N_, SCHEMA_MESSAGES, OneOf, fail, messages

REASONS = [r.value for r in RefundReason]


class RefundRequestSchema(Schema):
    """POST /payments/<id>/refunds body (may be empty: a full refund)."""

    class Meta:
        unknown = RAISE

    error_messages = SCHEMA_MESSAGES

    amount = AmountField(
        required=False,
        allow_none=True,
        error_messages=messages(invalid=N_("Not a valid amount.")),
        metadata={
            "type": ["number", "string"],
            "pattern": DOCUMENTED_AMOUNT_PATTERN,
            "exclusiveMinimum": 0,
            "description": "Greater than 0, at most the currency's decimals; default: all that "
            "is still refundable.",
        },
    )
    reason = fields.String(
        required=False,
        allow_none=True,
        validate=OneOf(REASONS),
        error_messages=messages(),
        metadata={"enum": REASONS, "description": "Default: requested_by_customer."},
    )

    @validates_schema(skip_on_field_errors=True)
    def _positive(self, data: dict[str, Any], **kwargs: Any) -> None:
        amount = data.get("amount")
        if amount is not None and amount <= 0:
            raise fail(N_("Must be greater than 0."), "amount")


class RefundResourceSchema(Schema):
    """The refund resource."""

    id = fields.UUID(required=True)
    payment_id = fields.UUID(required=True)
    status = fields.String(required=True, metadata={"enum": ["PENDING", "SUCCEEDED", "FAILED"]})
    amount = fields.String(required=True, metadata={"example": "25.00"})
    currency = fields.String(required=True)
    reason = fields.String(required=True, metadata={"enum": REASONS})
    failure_reason = fields.String(
        required=True, allow_none=True, metadata={"enum": ["gateway_unavailable", None]}
    )
    created_at = fields.AwareDateTime(format="iso", required=True)
    updated_at = fields.AwareDateTime(format="iso", required=True)


class CancellationRequestSchema(Schema):
    """POST /events/<event_id>/cancellation body (may be empty)."""

    class Meta:
        unknown = RAISE

    error_messages = SCHEMA_MESSAGES

    reason = text(low=None, high=500)


class CancellationResourceSchema(Schema):
    """The cancellation resource: progress of the event's refunds."""

    event_id = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, metadata={"enum": ["IN_PROGRESS", "COMPLETED"]})
    payments = fields.Integer(required=True)
    refunds_pending = fields.Integer(required=True)
    refunds_succeeded = fields.Integer(required=True)
    refunds_failed = fields.Integer(required=True)
    amount_refunded = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"example": {"BRL": "1234.50"}},
    )
    created_at = fields.AwareDateTime(format="iso", required=True)
    updated_at = fields.AwareDateTime(format="iso", required=True)
