"""How facts (`payments.domain.facts`) become outbox messages: topic, CloudEvents type, key
and flat JSON value."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payments.config import Topics
from payments.domain import facts
from payments.domain.model import Payment
from payments.i18n import catalog_language

CE_SOURCE = "/ticketing/payments"


@dataclass(frozen=True)
class OutboxMessage:
    """One row of the outbox: what the relay publishes, exactly."""

    message_id: uuid.UUID  # CloudEvents ce_id (the outbox column event_id)
    topic: str
    message_type: str  # CloudEvents ce_type (the outbox column event_type)
    key: str
    payload: dict[str, Any]
    occurred_at: datetime


def _payment_fields(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "user_name": payment.user_name,
        "user_email": payment.user_email,
        # Downstream (`clients` -> `tickets`) switches on the bare language: 'pt', not 'pt_BR'.
        "user_language": catalog_language(payment.user_language),
        "user_locale": payment.user_language,
        "event_id": payment.event_id,
        "event_name": payment.event_name,
        "event_description": payment.event_description,
        "event_image_url": payment.event_image_url,
        "amount": str(payment.amount),
        "currency": payment.currency,
    }


def _refund_fields(refund: Any) -> dict[str, Any]:
    return {
        "refund_id": str(refund.id),
        "payment_id": str(refund.payment_id),
        "amount": str(refund.amount),
        "currency": refund.currency,
        "reason": refund.reason.value,
    }


def to_message(
    fact: facts.Fact,
    payment: Payment | None,
    topics: Topics,
    now: datetime,
    source: Any = None,
) -> OutboxMessage:
    """The outbox message announcing `fact`; payment and refund facts need the payment's
    details, refund facts the refund (`source`, the aggregate that recorded the fact)."""
    key: str | None = None
    match fact:
        case facts.PaymentCreated():
            assert payment is not None
            topic, ce_type, value = (
                topics.payment_created,
                "payment.created",
                _payment_fields(payment),
            )
        case facts.TransactionCreated(transaction_id=tx, payment_id=pid):
            topic, ce_type = topics.transaction_created, "transaction.created"
            value = {"transaction_id": str(tx), "payment_id": str(pid)}
        case facts.TransactionSucceeded(transaction_id=tx, payment_id=pid):
            topic, ce_type = topics.transaction_succeeded, "transaction.succeeded"
            value = {"transaction_id": str(tx), "payment_id": str(pid)}
        case facts.TransactionFailed(transaction_id=tx, payment_id=pid, reason=reason):
            topic, ce_type = topics.transaction_failed, "transaction.failed"
            value = {"transaction_id": str(tx), "payment_id": str(pid), "reason": reason}
        case facts.PaymentSucceeded():
            assert payment is not None
            topic, ce_type = topics.payment_succeeded, "payment.succeeded"
            value = _payment_fields(payment)
        case facts.PaymentFailed(reason=reason):
            assert payment is not None
            topic, ce_type = topics.payment_failed, "payment.failed"
            value = _payment_fields(payment)
            del value["event_description"], value["event_image_url"]
            value["reason"] = reason
        case facts.RefundPending():
            topic, ce_type, value = topics.refund_pending, "refund.pending", _refund_fields(source)
        case facts.RefundSucceeded():
            assert payment is not None
            topic, ce_type = topics.refund_succeeded, "refund.succeeded"
            value = {
                **_refund_fields(source),
                "user_email": payment.user_email,
                "user_language": catalog_language(payment.user_language),
                "user_locale": payment.user_language,
                "event_id": payment.event_id,
                "event_name": payment.event_name,
            }
        case facts.RefundFailed(failure_reason=failure):
            topic, ce_type = topics.refund_failed, "refund.failed"
            value = {**_refund_fields(source), "failure_reason": failure}
        case facts.EventCancelled(event_id=event_id, reason=reason):
            topic, ce_type = topics.event_cancelled, "event.cancelled"
            value = {"event_id": event_id, "reason": reason}
            key = event_id  # contract section 9: keyed by the event id
        case _:  # pragma: no cover - the union is closed
            raise TypeError(f"unknown fact {fact!r}")
    return OutboxMessage(uuid.uuid4(), topic, ce_type, key or value["payment_id"], value, now)


def kafka_headers(message: OutboxMessage) -> list[tuple[str, bytes]]:
    """CloudEvents 1.0 Kafka binding, binary mode."""
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", str(message.message_id).encode()),
        ("ce_type", message.message_type.encode()),
        ("ce_source", CE_SOURCE.encode()),
        ("ce_time", message.occurred_at.isoformat().replace("+00:00", "Z").encode()),
        ("content-type", b"application/json"),
    ]


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(UTC)


def collect_messages(seen: list[Any], topics: Topics, now: datetime) -> list[OutboxMessage]:
    """Drain the facts of every aggregate seen, as outbox messages (a transaction's or a
    refund's facts carry their payment's details: it was loaded in the same unit of work)."""
    payments = {a.id: a for a in seen if isinstance(a, Payment)}
    messages: list[OutboxMessage] = []
    for aggregate in seen:
        if isinstance(aggregate, Payment):
            payment: Payment | None = aggregate
        else:
            payment = payments.get(getattr(aggregate, "payment_id", None))  # type: ignore[arg-type]
        while aggregate.facts:
            fact = aggregate.facts.pop(0)
            messages.append(to_message(fact, payment, topics, now, aggregate))
    return messages
