"""Refunds and event cancellations: state machines and the refundable-amount rule.

Refund: PENDING -> SUCCEEDED | FAILED. SUCCEEDED never changes; FAILED (the gateway refused,
or could not be reached for REFUND_RETRY_HOURS) goes back to PENDING only when an operator
asks for a new attempt (`flask refunds retry`). What a payment can
still refund is its amount minus every refund that has not FAILED (pending ones count), so
that concurrent requests can never refund more than was paid: `Payment.amount_reserved`
holds that sum, changed only under the payment's row lock (and bounded by a CHECK).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from payments.domain import facts
from payments.domain.model import DomainError, IllegalTransition, Payment, Status


class RefundStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self is not RefundStatus.PENDING


class RefundReason(StrEnum):
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    EVENT_CANCELLED = "event_cancelled"
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"


class RefundFailure(StrEnum):
    GATEWAY_UNAVAILABLE = "gateway_unavailable"


class NotRefundable(DomainError):
    """Only a SUCCESS payment can be refunded."""


class ExceedsRefundable(DomainError):
    """The amount asked for is more than what is left to refund."""

    def __init__(self, refundable: Decimal):
        super().__init__(f"at most {refundable} can be refunded")
        self.refundable = refundable


class ReasonReserved(DomainError):
    """`event_cancelled` is the reason of the refunds an event's cancellation makes; a refund
    asked for by hand cannot give it (the cancellation refunds what is left)."""


class EventIsCancelled(DomainError):
    """No payment is accepted for a cancelled event."""


def refundable(payment: Payment) -> Decimal:
    """What is left to refund: the amount minus every refund not FAILED."""
    return payment.amount - payment.amount_reserved


@dataclass
class Refund:
    id: UUID
    payment_id: UUID
    amount: Decimal
    currency: str
    reason: RefundReason
    status: RefundStatus
    created_at: datetime
    updated_at: datetime
    failure_reason: RefundFailure | None = None
    by_cancellation: bool = False  # made by the event's cancellation, not asked for by hand
    facts: list[facts.Fact] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def request(
        cls,
        refund_id: UUID,
        payment: Payment,
        amount: Decimal | None,
        reason: RefundReason,
        now: datetime,
    ) -> Refund:
        """A new PENDING refund of `amount` (None: all that is left), reserved on the payment.

        Raises NotRefundable unless the payment is SUCCESS, ExceedsRefundable when the
        amount is more than what is left (or nothing is left), ReasonReserved for
        `event_cancelled`, which only the event's cancellation gives (`for_cancellation`).
        """
        if reason is RefundReason.EVENT_CANCELLED:
            raise ReasonReserved("refunds of a cancelled event are made by its cancellation")
        return cls._reserve(refund_id, payment, amount, reason, now)

    @classmethod
    def for_cancellation(cls, refund_id: UUID, payment: Payment, now: datetime) -> Refund:
        """The cancellation's refund of a payment: all that is left, whatever refunds came
        before it and for whatever reason. ExceedsRefundable when nothing is left."""
        refund = cls._reserve(refund_id, payment, None, RefundReason.EVENT_CANCELLED, now)
        refund.by_cancellation = True
        return refund

    @classmethod
    def _reserve(
        cls,
        refund_id: UUID,
        payment: Payment,
        amount: Decimal | None,
        reason: RefundReason,
        now: datetime,
    ) -> Refund:
        if payment.status is not Status.SUCCESS:
            raise NotRefundable(f"payment {payment.id} is {payment.status}")
        left = refundable(payment)
        wanted = left if amount is None else amount
        if wanted <= 0 or wanted > left:
            raise ExceedsRefundable(left)
        payment.amount_reserved += wanted
        refund = cls(
            refund_id, payment.id, wanted, payment.currency, reason, RefundStatus.PENDING, now, now
        )
        refund.facts.append(facts.RefundPending(refund_id, payment.id))
        return refund

    def succeed(self, now: datetime) -> None:
        """The gateway refunded: SUCCEEDED, recording RefundSucceeded."""
        self._finish(RefundStatus.SUCCEEDED, None, now)
        self.facts.append(facts.RefundSucceeded(self.id, self.payment_id))

    def fail(self, failure: RefundFailure, payment: Payment, now: datetime) -> None:
        """The refund could not be made: FAILED, its amount refundable again."""
        self._check_payment(payment)
        self._finish(RefundStatus.FAILED, failure, now)
        payment.amount_reserved -= self.amount
        self.facts.append(facts.RefundFailed(self.id, self.payment_id, failure.value))

    def retry(self, payment: Payment, now: datetime) -> None:
        """An operator's new attempt at a FAILED refund (the same id, so the same idempotency
        key at the gateway): PENDING again, its amount reserved again, recording
        RefundPending. ExceedsRefundable when the payment no longer has that much left."""
        self._check_payment(payment)
        if self.status is not RefundStatus.FAILED:
            raise IllegalTransition(f"refund {self.id} is {self.status}, not FAILED")
        if self.amount > refundable(payment):
            raise ExceedsRefundable(refundable(payment))
        payment.amount_reserved += self.amount
        self.status, self.failure_reason, self.updated_at = RefundStatus.PENDING, None, now
        self.facts.append(facts.RefundPending(self.id, self.payment_id))

    def _check_payment(self, payment: Payment) -> None:
        if payment.id != self.payment_id:
            raise IllegalTransition(f"refund {self.id} is not of payment {payment.id}")

    def _finish(self, status: RefundStatus, failure: RefundFailure | None, now: datetime) -> None:
        if self.status.terminal:
            raise IllegalTransition(f"refund {self.id} is already {self.status}")
        self.status, self.failure_reason, self.updated_at = status, failure, now


@dataclass
class Cancellation:
    """An event's cancellation: accepted once, then its payments refunded in batches."""

    event_id: str
    reason: str | None
    created_at: datetime
    updated_at: datetime
    cursor: UUID | None = None  # the last payment id the batches have gone past
    scanned_at: datetime | None = None
    facts: list[facts.Fact] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def accept(cls, event_id: str, reason: str | None, now: datetime) -> Cancellation:
        """A new cancellation, recording EventCancelled."""
        cancellation = cls(event_id, reason, now, now)
        cancellation.facts.append(facts.EventCancelled(event_id, reason))
        return cancellation
