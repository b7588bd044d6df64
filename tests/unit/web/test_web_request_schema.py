"""The POST /payments body rules (contract section 3), without any service."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from marshmallow import ValidationError

from web import i18n
from web.schemas import PaymentRequestSchema, allowed_places
from web.validation import field_errors

VALID = {
    "user_name": "Ana",
    "user_email": "ana@example.com",
    "event_id": "e-1",
    "event_amount": Decimal("125.5"),
    "payment_token": "TOKEN123",
}


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask("web")
    i18n.init_app(app)
    return app


def load(default_currency: str = "USD", **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in {**VALID, **changes}.items() if v is not ...}
    return PaymentRequestSchema(default_currency=default_currency).load(body)


def errors_of(app: Flask, language: str = "en", **changes: Any) -> dict[str, str]:
    with app.test_request_context(headers={"Accept-Language": language}):
        with pytest.raises(ValidationError) as caught:
            load(**changes)
        return {e["field"]: e["message"] for e in field_errors(caught.value.messages)}


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (Decimal("125.5"), "USD", Decimal("125.5")),
        ("125.50", "BRL", Decimal("125.50")),
        (Decimal("5000"), "JPY", Decimal("5000")),
        ("0.01", "EUR", Decimal("0.01")),
        ("9999999999.99", "USD", Decimal("9999999999.99")),
        ("12.340", "KWD", Decimal("12.340")),
        ("12.34", "KWD", Decimal("12.34")),
        ("9999999999.990", "BHD", Decimal("9999999999.990")),
        ("0.010", "TND", Decimal("0.010")),
    ],
)
def test_amounts_within_the_currency_rules_load_exactly(amount, currency, expected) -> None:  # type: ignore[no-untyped-def]
    data = load(event_amount=amount, currency=currency)
    assert data["event_amount"] == expected and isinstance(data["event_amount"], Decimal)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (Decimal("0"), "USD"),
        (Decimal("-1"), "USD"),
        ("125.555", "USD"),
        ("1.5", "JPY"),
        ("10000000000", "USD"),
        ("9999999999.999", "USD"),
        ("12.3456", "KWD"),
        ("12.345", "KWD"),  # Stripe charges three-decimal currencies in tens of minor units
        ("0.001", "TND"),
        ("10000000000", "KWD"),
        ("1e3", "USD"),
        (" 12", "USD"),
        ("1_000", "USD"),
        ("١٢", "USD"),
        ("NaN", "USD"),
        (True, "USD"),
        (12.5, "USD"),  # a float never gets here: the body is parsed into Decimal
        (None, "USD"),
    ],
)
def test_bad_amounts_are_refused(app: Flask, amount, currency) -> None:  # type: ignore[no-untyped-def]
    assert set(errors_of(app, event_amount=amount, currency=currency)) == {"event_amount"}


def test_decimals_are_each_currencys_own() -> None:
    assert (allowed_places("USD"), allowed_places("JPY"), allowed_places("BRL")) == (2, 0, 2)
    assert [allowed_places(c) for c in ("KWD", "BHD", "JOD", "OMR", "TND")] == [3] * 5
    assert allowed_places("CLF") == 4  # the most any ISO 4217 currency has


def test_the_default_currency_decides_the_decimals(app: Flask) -> None:
    assert load(default_currency="JPY", event_amount=Decimal("7"))["event_amount"] == 7
    with app.test_request_context(), pytest.raises(ValidationError):
        load(default_currency="JPY", event_amount=Decimal("7.5"))


def test_every_missing_and_unknown_field_is_named(app: Flask) -> None:
    errors = errors_of(app, user_name=..., user_email=..., card_number="4111")
    assert errors == {
        "user_name": "This field is required.",
        "user_email": "This field is required.",
        "card_number": "Unknown field.",
    }


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "Must be 1 to 64 characters long."),
        ("pt-BR", "Deve ter de 1 a 64 caracteres."),
        ("es", "Debe tener de 1 a 64 caracteres."),
    ],
)
def test_parametrised_messages_are_translated(app: Flask, language: str, message: str) -> None:
    assert errors_of(app, language, event_id="")["event_id"] == message


@pytest.mark.parametrize(
    "changes",
    [
        {"user_email": "ana@"},
        {"user_name": "x" * 201},
        {"event_name": "x" * 201},
        {"event_description": "x" * 2001},
        {"payment_token": ""},
        {"payment_token": "x" * 256},
        {"event_image_url": "javascript:alert(1)"},
        {"user_language": "pt-BR\n"},
        {"currency": "usd1"},
        {"currency": "ZZZ"},
        {"user_name": "nul\x00byte"},
        {"event_id": "lone\ud800surrogate"},
        {"user_name": 42},
        {"user_name": None},
    ],
)
def test_field_rules(app: Flask, changes: dict[str, Any]) -> None:
    assert set(errors_of(app, **changes)) == set(changes)


def test_blank_optional_codes_count_as_absent() -> None:
    data = load(event_image_url="", user_language="", currency="")
    assert data["event_image_url"] is data["user_language"] is data["currency"] is None


def test_the_token_is_load_only() -> None:
    assert "payment_token" not in PaymentRequestSchema().dump(VALID)
