"""Facts the model records when its state changes (the "domain events" of the literature;
here "event" is the concert a ticket is for). The unit of work turns each into an outbox
message (`payments.messages`)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class PaymentCreated:
    payment_id: UUID


@dataclass(frozen=True)
class TransactionCreated:
    transaction_id: UUID
    payment_id: UUID


@dataclass(frozen=True)
class TransactionSucceeded:
    transaction_id: UUID
    payment_id: UUID


@dataclass(frozen=True)
class TransactionFailed:
    transaction_id: UUID
    payment_id: UUID
    reason: str


@dataclass(frozen=True)
class PaymentSucceeded:
    payment_id: UUID


@dataclass(frozen=True)
class PaymentFailed:
    payment_id: UUID
    reason: str


@dataclass(frozen=True)
class RefundPending:
    refund_id: UUID
    payment_id: UUID


@dataclass(frozen=True)
class RefundSucceeded:
    refund_id: UUID
    payment_id: UUID


@dataclass(frozen=True)
class RefundFailed:
    refund_id: UUID
    payment_id: UUID
    failure_reason: str


@dataclass(frozen=True)
class EventCancelled:
    event_id: str
    reason: str | None


Fact = (
    PaymentCreated
    | TransactionCreated
    | TransactionSucceeded
    | TransactionFailed
    | PaymentSucceeded
    | PaymentFailed
    | RefundPending
    | RefundSucceeded
    | RefundFailed
    | EventCancelled
)

__all__ = [
    "Fact",
    "EventCancelled",
    "RefundFailed",
    "RefundPending",
    "RefundSucceeded",
    "PaymentCreated",
    "PaymentFailed",
    "PaymentSucceeded",
    "TransactionCreated",
    "TransactionFailed",
    "TransactionSucceeded",
]
