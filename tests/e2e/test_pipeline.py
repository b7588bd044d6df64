"""A payment travels the whole pipeline on real processes and services."""

from __future__ import annotations

import json
import time
import uuid

import requests

from tests.support import asyncapi
from tests.support.factories import payment_body
from tests.support.kafka import records
from tests.support.procs import wait_until
from tests.support.smtp import parts

NBSP = "\u00a0"


def _post(stack, **changes: str) -> dict:  # type: ignore[no-untyped-def]
    response = requests.post(
        f"{stack.base_url}/payments",
        json=payment_body(**changes),
        headers=stack.keys.front(),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/payments/{response.json()['id']}"
    return response.json()


def _terminal(stack, payment_id: str) -> dict:  # type: ignore[no-untyped-def]
    def done():  # type: ignore[no-untyped-def]
        body = requests.get(
            f"{stack.base_url}/payments/{payment_id}", headers=stack.keys.front(), timeout=5
        ).json()
        return body if body["status"] != "PENDING" else None

    return wait_until(done, timeout=60, message=f"payment {payment_id} stayed PENDING")


def test_even_token_in_english_succeeds_with_one_email_and_event(stack) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    created = _post(stack)
    assert created["status"] == "PENDING"
    assert "payment_token" not in created

    final = _terminal(stack, created["id"])
    assert final["status"] == "SUCCESS"
    assert final["transaction"]["status"] == "SUCCESS"
    assert final["transaction"]["reason"] is None

    [mail] = stack.smtp.wait_for(created["user_email"])
    elapsed = time.monotonic() - started
    print(f"POST -> e-mail received: {elapsed * 1000:.0f} ms")
    text, html = parts(mail)
    assert "approved" in mail["Subject"].lower()
    assert "$125.50" in text and "$125.50" in html
    assert "Ana Souza" in text and "Rock in Rio" in html
    assert created["id"] in text
    assert "TOKEN123" not in mail.as_string()

    [record] = records(stack.settings, "PAYMENT_SUCCEEDED_TOPIC", created["id"])
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["ce_specversion"] == "1.0"
    assert headers["ce_type"] == "payment.succeeded"
    assert headers["content-type"] == "application/json"
    assert headers["ce_source"] and headers["ce_time"].endswith("Z")
    uuid.UUID(headers["ce_id"])
    value = json.loads(record.value)
    assert value == {
        "payment_id": created["id"],
        "user_name": "Ana Souza",
        "user_email": created["user_email"],
        "user_language": "en",
        "user_locale": "en",
        "event_id": "evt-42",
        "event_name": "Rock in Rio",
        "event_description": "Main stage",
        "event_image_url": "https://img.example/rock.png",
        "amount": "125.50",
        "currency": "USD",
    }

    time.sleep(1)  # a duplicate would have arrived by now
    assert len(stack.smtp.for_recipient(created["user_email"])) == 1


def test_odd_token_in_brazilian_portuguese_is_rejected_in_portuguese(stack) -> None:  # type: ignore[no-untyped-def]
    created = _post(stack, payment_token="ODD12", user_language="pt-BR", currency="BRL")
    assert created["user_language"] == "pt_BR"

    final = _terminal(stack, created["id"])
    assert final["status"] == "FAILED"
    assert final["transaction"] == {
        **final["transaction"],
        "status": "FAILED",
        "reason": "rejected_by_gateway",
    }

    [mail] = stack.smtp.wait_for(created["user_email"])
    text, html = parts(mail)
    assert "Pagamento não aprovado" in mail["Subject"]
    assert f"R${NBSP}125,50" in text or "R$ 125,50" in text
    assert "Tente novamente" in text
    assert "ODD12" not in mail.as_string()

    [record] = records(stack.settings, "PAYMENT_FAILED_TOPIC", created["id"])
    value = json.loads(record.value)
    assert value["reason"] == "rejected_by_gateway"
    assert (value["user_language"], value["user_locale"]) == ("pt", "pt_BR")
    time.sleep(1)
    assert len(stack.smtp.for_recipient(created["user_email"])) == 1


def test_a_three_decimal_currency_keeps_its_three_decimals_to_the_email(stack) -> None:  # type: ignore[no-untyped-def]
    # Stripe charges three-decimal currencies in tens of minor units: 12.340, not 12.345.
    created = _post(stack, event_amount="12.34", currency="KWD", user_language="en")
    assert created["amount"] == "12.340" and created["currency"] == "KWD"

    final = _terminal(stack, created["id"])
    assert final["status"] == "SUCCESS" and final["amount"] == "12.340"

    [mail] = stack.smtp.wait_for(created["user_email"])
    text, html = parts(mail)
    assert "KWD12.340" in text  # Babel's en format for KWD: three decimals, no space
    [record] = records(stack.settings, "PAYMENT_SUCCEEDED_TOPIC", created["id"])
    assert json.loads(record.value)["amount"] == "12.340"
    charged = stack.gateway.counts()["charges_by_payment"]
    assert charged[created["id"]] == 1


def test_every_record_relayed_to_kafka_fits_the_asyncapi_document(stack) -> None:  # type: ignore[no-untyped-def]
    doc = asyncapi.document()
    paid = _post(stack)
    declined = _post(stack, payment_token="ODD12")
    for created in (paid, declined):
        _terminal(stack, created["id"])
    flows = {
        paid["id"]: ("PAYMENT_CREATED", "TRANSACTION_CREATED", "TRANSACTION_SUCCEEDED",
                     "PAYMENT_SUCCEEDED"),
        declined["id"]: ("PAYMENT_CREATED", "TRANSACTION_CREATED", "TRANSACTION_FAILED",
                         "PAYMENT_FAILED"),
    }  # fmt: skip
    for payment_id, topics in flows.items():
        for name in topics:
            topic = f"{name}_TOPIC"
            [record] = records(stack.settings, topic, payment_id)
            headers = {k: v.decode() for k, v in record.headers}
            assert asyncapi.problems(doc, topic, headers, json.loads(record.value)) == [], topic
