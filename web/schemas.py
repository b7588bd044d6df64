"""Marshmallow schemas: the request body rules of contract section 3, and the resource.

The same classes validate requests, shape responses and generate the OpenAPI document.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_name, list_currencies
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validates_schema

from payments import money
from web.validation import N_, SCHEMA_MESSAGES, Length, Msg, Regexp, fail, messages

MAX_AMOUNT = money.maximum("KWD")  # no currency with fewer decimals goes above it either
AMOUNT_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
LANGUAGE_PATTERN = r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8})*$"
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"
# What the document says of an amount string: the validation's pattern, and not zero (a
# lookahead for a non-zero digit; JSON Schema's regexes are ECMA-262's, which have it).
DOCUMENTED_AMOUNT_PATTERN = r"^(?=[0-9.]*[1-9])[0-9]+(\.[0-9]+)?$"


def known_currencies() -> list[str]:
    """The ISO 4217 codes `currency_code` accepts (Babel's data)."""
    return sorted(c for c in list_currencies() if get_currency_name(c, locale="en") != c)


def documented_currency_pattern() -> str:
    """A case-insensitive pattern of exactly the known codes, as the document states it (the
    API takes them in any case; ECMA-262 regexes have no inline flag, so a class per letter),
    or blank (the default currency: BLANK_IS_ABSENT)."""
    letters = ("".join(f"[{ch}{ch.lower()}]" for ch in code) for code in known_currencies())
    return "^(|" + "|".join(letters) + ")$"


BLANK_IS_ABSENT = ("event_image_url", "user_language", "currency")


def plain_text(value: str) -> None:
    """Reject text PostgreSQL cannot store: NUL characters and lone surrogates."""
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise fail(N_("Contains characters that are not allowed."))


def currency_code(value: str) -> None:
    """Reject codes Babel does not know as ISO 4217 currencies."""
    code = value.upper()
    if get_currency_name(code, locale="en") == code:
        raise fail(N_("Not a known ISO 4217 currency code."))


def allowed_places(currency: str) -> int:
    """Decimals allowed for the currency: its ISO 4217 minor unit (Babel's data)."""
    return money.decimals(currency)


def text(required: bool = False, low: int | None = None, high: int | None = None) -> fields.String:
    """A string field with translatable messages and a length rule."""
    return fields.String(
        required=required,
        allow_none=not required,
        validate=[Length(low, high), plain_text],
        error_messages=messages(),
    )


class AmountField(fields.Decimal):
    """A decimal from a JSON number or a plain decimal string; never a float, NaN or Infinity."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
            raise self.make_error("invalid")
        if isinstance(value, str) and not re.fullmatch(AMOUNT_PATTERN, value):
            raise self.make_error("invalid")
        amount = Decimal(value) if not isinstance(value, Decimal) else value
        if not amount.is_finite():
            raise self.make_error("invalid")
        return amount


class PaymentRequestSchema(Schema):
    """POST /payments body."""

    class Meta:
        unknown = RAISE  # documented as additionalProperties: false (so: no Meta.description)

    error_messages = SCHEMA_MESSAGES

    user_name = text(required=True, low=1, high=200)
    user_email = fields.Email(
        required=True,
        validate=[Length(max=320), plain_text],
        error_messages=messages(invalid=N_("Not a valid e-mail address.")),
    )
    event_id = text(required=True, low=1, high=64)
    event_amount = AmountField(
        required=True,
        error_messages=messages(invalid=N_("Must be a number or a decimal string.")),
        metadata={
            "type": ["number", "string"],
            "pattern": DOCUMENTED_AMOUNT_PATTERN,
            "exclusiveMinimum": 0,
            "maximum": float(MAX_AMOUNT),
            "description": "Greater than 0, at most the currency's ISO 4217 decimals (2 for "
            "USD/BRL/EUR, 0 for JPY, 3 for KWD/BHD/JOD/OMR/TND), at most 9999999999.99 "
            "(9999999999.999 for 3-decimal currencies). A JSON number or a decimal string.",
        },
    )
    payment_token = fields.String(
        required=True,
        load_only=True,
        validate=[Length(1, 255), plain_text],
        error_messages=messages(),
        metadata={"description": "A token from the payment front end, never a card number."},
    )
    event_name = text(high=200)
    event_description = text(high=2000)
    event_image_url = fields.URL(
        allow_none=True,
        schemes={"http", "https"},
        validate=[Length(max=2048), plain_text],
        error_messages=messages(invalid=N_("Not a valid http(s) URL.")),
    )
    user_language = fields.String(
        allow_none=True,
        validate=[Length(max=64), Regexp(LANGUAGE_PATTERN, error=N_("Not a valid language tag."))],
        error_messages=messages(),
        metadata={
            "description": "BCP 47 tag; else (or blank) Accept-Language's best match; else en.",
            "pattern": f"^(|{LANGUAGE_PATTERN[1:-1]})$",  # blank is absent (BLANK_IS_ABSENT)
        },
    )
    currency = fields.String(
        allow_none=True,
        validate=[Regexp(CURRENCY_PATTERN, error=N_("Not a valid currency code.")), currency_code],
        error_messages=messages(),
        metadata={
            "description": "ISO 4217 code, in any case; default DEFAULT_CURRENCY.",
            "pattern": documented_currency_pattern(),
        },
    )

    def __init__(self, default_currency: str = "USD", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_currency = default_currency

    @pre_load
    def _blank_is_absent(self, data: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            return {k: (None if k in BLANK_IS_ABSENT and v == "" else v) for k, v in data.items()}
        return data

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _amount_rules(self, data: dict[str, Any], original: Any, **kwargs: Any) -> None:
        amount: Decimal | None = data.get("event_amount")
        if amount is None:
            return
        if amount <= 0:
            raise fail(N_("Must be greater than 0."), "event_amount")
        if original.get("currency") and not data.get("currency"):
            if amount > MAX_AMOUNT:
                raise fail(
                    N_("Must be at most %(maximum)s."), "event_amount", maximum=str(MAX_AMOUNT)
                )
            return  # the currency itself is invalid: its decimals are unknown
        currency = (data.get("currency") or self.default_currency).upper()
        highest = money.maximum(currency)
        if amount > highest:
            raise fail(N_("Must be at most %(maximum)s."), "event_amount", maximum=str(highest))
        places = allowed_places(currency)
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise ValidationError(
                Msg(
                    N_("%(currency)s amounts allow at most %(places)d decimal places."),
                    currency=currency,
                    places=places,
                ),
                "event_amount",
            )
        if not money.gateway_chargeable(amount, currency):
            raise ValidationError(
                Msg(
                    N_(
                        "The payment gateway charges %(currency)s only in multiples of 0.010;"
                        " %(amount)s cannot be charged exactly."
                    ),
                    currency=currency,
                    amount=str(amount),
                ),
                "event_amount",
            )


class TransactionSchema(Schema):
    """The payment's transaction inside the resource."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, metadata={"enum": ["PENDING", "SUCCESS", "FAILED"]})
    reason = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "enum": [
                "invalid_payment_data",
                "rejected_by_gateway",
                "gateway_unavailable",
                "authentication_failed",
                None,
            ]
        },
    )
    created_at = fields.AwareDateTime(format="iso", required=True)
    updated_at = fields.AwareDateTime(format="iso", required=True)
    gateway_reference = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "The gateway's id of the charge (a Stripe PaymentIntent), once it"
            " answered.",
            "example": "pi_3QxYzAbCdEfGhIjK1a2b3c4d",
        },
    )
    decline_code = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Why the card's issuer declined the charge, as Stripe names it"
            " (`insufficient_funds`, `expired_card`...); null otherwise.",
            "example": None,
        },
    )


class NextActionSchema(Schema):
    """What the front end's Stripe.js needs to complete a 3-D Secure authentication."""

    type = fields.String(required=True, metadata={"enum": ["use_stripe_sdk"]})
    client_secret = fields.String(
        required=True, metadata={"example": "pi_3QxYzAbCdEfGhIjK1a2b3c4d_secret_x"}
    )


class PaymentResourceSchema(Schema):
    """The payment resource returned by the API."""

    id = fields.UUID(required=True)
    status = fields.String(required=True, metadata={"enum": ["PENDING", "SUCCESS", "FAILED"]})
    user_name = fields.String(required=True)
    user_email = fields.String(required=True)
    user_language = fields.String(required=True, metadata={"description": "Resolved locale."})
    event_id = fields.String(required=True)
    event_name = fields.String(required=True, allow_none=True)
    event_description = fields.String(required=True, allow_none=True)
    event_image_url = fields.String(required=True, allow_none=True)
    amount = fields.String(required=True, metadata={"example": "125.50"})
    currency = fields.String(required=True, metadata={"example": "BRL"})
    created_at = fields.AwareDateTime(format="iso", required=True)
    updated_at = fields.AwareDateTime(format="iso", required=True)
    transaction = fields.Nested(TransactionSchema, required=True, allow_none=True)
    next_action = fields.Nested(
        NextActionSchema,
        required=True,
        allow_none=True,
        metadata={
            "description": "While the cardholder must authenticate with their bank (3-D"
            " Secure): what the front end hands to Stripe.js (`stripe.handleNextAction({"
            "clientSecret})`); null otherwise. The payment stays PENDING meanwhile."
        },
    )
    amount_refunded = fields.String(
        required=True, metadata={"description": "Sum of the SUCCEEDED refunds.", "example": "0.00"}
    )
    refunds = fields.List(
        fields.Nested("RefundResourceSchema"),
        required=True,
        metadata={"description": "The payment's refunds, oldest first."},
    )
