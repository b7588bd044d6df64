"""Marshmallow schemas: the request body rules of contract section 3, and the resource."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_name, get_currency_precision
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

MAX_AMOUNT = Decimal("9999999999.99")


def _currency_code(value: str) -> None:
    if (
        len(value) != 3
        or not value.isalpha()
        or get_currency_name(value.upper(), locale="en") == value.upper()
    ):
        raise ValidationError("Not a valid ISO 4217 currency code.")


class AmountField(fields.Decimal):
    """A decimal from a JSON number or a decimal string; never a float, never NaN/Infinity."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class PaymentRequestSchema(Schema):
    """POST /payments body."""

    class Meta:
        unknown = RAISE

    user_name = fields.String(required=True, validate=validate.Length(1, 200))
    user_email = fields.Email(required=True, validate=validate.Length(max=320))
    event_id = fields.String(required=True, validate=validate.Length(1, 64))
    event_amount = AmountField(required=True, allow_nan=False)
    payment_token = fields.String(required=True, validate=validate.Length(1, 255), load_only=True)
    event_name = fields.String(validate=validate.Length(max=200), allow_none=True)
    event_description = fields.String(validate=validate.Length(max=2000), allow_none=True)
    event_image_url = fields.URL(
        schemes={"http", "https"}, validate=validate.Length(max=2048), allow_none=True
    )
    user_language = fields.String(validate=validate.Length(max=64), allow_none=True)
    currency = fields.String(validate=_currency_code, allow_none=True)

    @validates_schema
    def _amount_rules(self, data: dict[str, Any], **kwargs: Any) -> None:
        amount: Decimal | None = data.get("event_amount")
        if amount is None:
            return
        if amount <= 0:
            raise ValidationError("Must be greater than 0.", "event_amount")
        if amount > MAX_AMOUNT:
            raise ValidationError("Must be at most 9999999999.99.", "event_amount")
        currency = (data.get("currency") or self.context_currency()).upper()
        places = get_currency_precision(currency)
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise ValidationError(
                f"{currency} allows at most {places} decimal places.", "event_amount"
            )

    def context_currency(self) -> str:
        """The default currency given when the schema was built."""
        return getattr(self, "default_currency", "USD")


class TransactionSchema(Schema):
    id = fields.UUID()
    status = fields.String()
    reason = fields.String(allow_none=True)
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")


class PaymentResourceSchema(Schema):
    """The payment resource returned by the API."""

    id = fields.UUID()
    status = fields.String()
    user_name = fields.String()
    user_email = fields.String()
    user_language = fields.String()
    event_id = fields.String()
    event_name = fields.String(allow_none=True)
    event_description = fields.String(allow_none=True)
    event_image_url = fields.String(allow_none=True)
    amount = fields.String()
    currency = fields.String()
    created_at = fields.AwareDateTime(format="iso")
    updated_at = fields.AwareDateTime(format="iso")
    transaction = fields.Nested(TransactionSchema, allow_none=True)
