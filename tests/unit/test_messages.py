"""Domain events become outbox messages with the contract's topics, fields and headers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

from payments.config import Topics
from payments.domain import facts
from payments.domain.model import Payment, Reason
from payments.messages import collect_messages, kafka_headers, to_message

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def payment() -> Payment:
    return Payment.place(
        uuid.uuid4(),
        NOW,
        user_name="Ana",
        user_email="a@x.io",
        user_language="en",
        event_id="e1",
        amount=Decimal("125.50"),
        currency="USD",
        payment_token="TOKEN123",
        event_name="Show",
        event_description="Desc",
        event_image_url="https://i/x.png",
    )


def test_payment_created_carries_the_payment_fields_but_never_the_token() -> None:
    p = payment()
    message = to_message(facts.PaymentCreated(p.id), p, Topics(), NOW)
    assert message.topic == "PAYMENT_CREATED_TOPIC"
    assert message.message_type == "payment.created"
    assert message.key == str(p.id)
    assert message.payload["amount"] == "125.50"
    assert set(message.payload) == {
        "payment_id",
        "user_name",
        "user_email",
        "user_language",
        "user_locale",
        "event_id",
        "event_name",
        "event_description",
        "event_image_url",
        "amount",
        "currency",
    }
    assert "TOKEN123" not in str(message.payload)


def test_payment_failed_fields_follow_the_contract() -> None:
    p = payment()
    message = to_message(
        facts.PaymentFailed(p.id, Reason.REJECTED_BY_GATEWAY.value),
        p,
        Topics(payment_failed="custom.failed"),
        NOW,
    )
    assert message.topic == "custom.failed"
    assert set(message.payload) == {
        "payment_id",
        "user_name",
        "user_email",
        "user_language",
        "user_locale",
        "event_id",
        "event_name",
        "reason",
        "amount",
        "currency",
    }


def test_transaction_events_key_by_payment() -> None:
    pid, tid = uuid.uuid4(), uuid.uuid4()
    message = to_message(
        facts.TransactionFailed(tid, pid, "gateway_unavailable"), None, Topics(), NOW
    )
    assert message.key == str(pid)
    assert message.payload == {
        "transaction_id": str(tid),
        "payment_id": str(pid),
        "reason": "gateway_unavailable",
    }


def test_cloudevents_headers() -> None:
    p = payment()
    message = to_message(facts.PaymentSucceeded(p.id), p, Topics(), NOW)
    headers = dict(kafka_headers(message))
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == str(message.message_id).encode()
    assert headers["ce_type"] == b"payment.succeeded"
    assert headers["ce_time"] == b"2026-11-26T12:00:00Z"
    assert headers["content-type"] == b"application/json"


def test_collect_drains_events_once() -> None:
    p = payment()
    first = collect_messages([p], Topics(), NOW)
    assert [m.message_type for m in first] == ["payment.created"]
    assert collect_messages([p], Topics(), NOW) == []
