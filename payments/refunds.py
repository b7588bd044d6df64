"""Refund and event-cancellation use cases (contract section 9), on the payments' rails.

Each runs in one unit of work: the refund row, the payment's reservation and the outbox row
announcing the change commit together. Every step is idempotent, as the payments' are.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar
from uuid import UUID

from payments.domain.gateway_rule import TransientGatewayError
from payments.domain.model import Payment
from payments.domain.refund import (
    Cancellation,
    ExceedsRefundable,
    Refund,
    RefundFailure,
    RefundReason,
    RefundStatus,
)
from payments.errors import AlreadyDone, NotFound, NotReady
from payments.ports import (
    Gateway,
    Mailer,
    RefundEmailRenderer,
    RefundOrder,
    RefundOutcome,
    UnitOfWork,
)
from payments.uow import SqlUnitOfWork

U = TypeVar("U", bound=UnitOfWork)
CANCELLATION_BATCH = 500

CONFIRMED, FAILED, DELAYED = "refund_confirmed", "refund_failed", "refund_delayed"


def request_refund(
    uow: U,
    payment_id: UUID,
    amount: Decimal | None,
    reason: RefundReason,
    before_commit: Callable[[U, Refund], None] | None = None,
) -> Refund:
    """A PENDING refund of the payment (all that is left when `amount` is None) and its
    refund.pending event. NotFound, or the domain's NotRefundable / ExceedsRefundable."""
    with uow:
        payment = uow.repo.get_payment(payment_id, lock=True)  # serializes concurrent refunds
        if payment is None:
            raise NotFound(f"payment {payment_id}")
        refund = Refund.request(uuid.uuid4(), payment, amount, reason, uow.clock())
        uow.refunds.add(refund)
        uow.repo.save_reservation(payment)
        if before_commit is not None:
            before_commit(uow, refund)
        uow.commit()
    return refund


def refund_through_gateway(
    uow: UnitOfWork, gateway: Gateway, refund_id: UUID
) -> RefundStatus | None:
    """Ask the gateway to refund a PENDING refund (the refund id is its idempotency key) and
    record what it answered: SUCCEEDED, or FAILED (`gateway_unavailable`, the contract's one
    failure reason) when it refused for good; None if it was finished already.
    `TransientGatewayError` propagates, and `RefundPending` when the gateway took the refund
    but has not finished it: both mean "ask again later"."""
    with uow.reading():
        refund = uow.refunds.get(refund_id)
        if refund is None:
            raise NotFound(f"refund {refund_id}")
        if refund.status.terminal:
            return None
        found = uow.repo.payment_with_transaction(refund.payment_id)
    payment, tx = found if found is not None else (None, None)
    if payment is None or tx is None:  # a refund exists only for a charged payment
        raise NotFound(f"the charge of refund {refund_id}")
    order = RefundOrder(refund_id, tx.id, tx.gateway_reference, refund.amount, payment.currency)
    outcome = gateway.refund(order)  # outside any database transaction
    if outcome is RefundOutcome.PENDING:
        raise RefundPending(f"the gateway has not finished refund {refund_id} yet")
    if outcome is RefundOutcome.FAILED:
        failed = finish_refund(uow, refund_id, RefundFailure.GATEWAY_UNAVAILABLE)
        return RefundStatus.FAILED if failed else None
    return RefundStatus.SUCCEEDED if finish_refund(uow, refund_id, None) else None


class RefundPending(TransientGatewayError):
    """The gateway took the refund and reports it pending: read it again later."""


def finish_refund(uow: UnitOfWork, refund_id: UUID, failure: RefundFailure | None) -> bool:
    """SUCCEEDED (no `failure`) or FAILED, with its event; False if it was finished already.
    A failed refund's amount becomes refundable again."""
    try:
        with uow:
            finished = finish_in(uow, refund_id, failure)
            uow.commit()
    except AlreadyDone:
        return False
    return finished


def finish_in(uow: UnitOfWork, refund_id: UUID, failure: RefundFailure | None) -> bool:
    """`finish_refund` inside a unit of work the caller opened and commits."""
    payment, refund = _locked(uow, refund_id)
    if refund.status.terminal:
        return False
    if failure is None:
        refund.succeed(uow.clock())
    else:
        refund.fail(failure, payment, uow.clock())
        uow.repo.save_reservation(payment)
    uow.refunds.save(refund)
    return True


def _locked(uow: UnitOfWork, refund_id: UUID) -> tuple[Payment, Refund]:
    """The refund and its payment, both locked FOR UPDATE, the payment first (the order every
    change of a payment's refunds takes, so that two never wait on each other)."""
    found = uow.refunds.get(refund_id)
    if found is None:
        raise NotFound(f"refund {refund_id}")
    payment = uow.repo.get_payment(found.payment_id, lock=True)
    refund = uow.refunds.get(refund_id, lock=True)
    assert payment is not None and refund is not None
    return payment, refund


def give_up_refund(uow: UnitOfWork, refund_id: UUID) -> bool:
    """FAILED with `gateway_unavailable` once the gateway's retries ran out."""
    return finish_refund(uow, refund_id, RefundFailure.GATEWAY_UNAVAILABLE)


class Retry(StrEnum):
    """What `retry_refund_later` decided."""

    LATER = "later"  # asked for again after the delay
    LATER_TELL_FAN = "later_tell_fan"  # the same, and the fan is owed the delay notice
    GAVE_UP = "gave_up"  # FAILED gateway_unavailable: its window has passed
    FINISHED = "finished"  # finished meanwhile: nothing to retry


def retry_refund_later(
    uow: UnitOfWork,
    refund_id: UUID,
    delay: timedelta,
    retry_for: timedelta,
    notice_after: timedelta | None = None,
) -> Retry:
    """After the gateway could not be reached for a PENDING refund: LATER when it is to be
    asked again after `delay` (noted on the refund, so that the self-healing sweep waits for
    it); GAVE_UP when `retry_for` has passed since it was requested or last retried by an
    operator (it is now FAILED with `gateway_unavailable`, the refund that alerts the team);
    FINISHED when it was finished meanwhile. LATER_TELL_FAN instead of LATER once the refund
    has been PENDING `notice_after` and its "refund on its way" e-mail has not gone yet."""
    with uow:
        refund = uow.refunds.get(refund_id)
        if refund is None:
            raise NotFound(f"refund {refund_id}")
        if refund.status.terminal:
            return Retry.FINISHED
        now = uow.clock()
        if now - refund.updated_at < retry_for:  # updated when requested or retried only
            uow.refunds.schedule_attempt(refund_id, now + delay)
            tell = (
                notice_after is not None
                and _delayed(uow, refund, notice_after)
                and not uow.refunds.email_sent(refund_id, DELAYED)
            )
            uow.commit()
            return Retry.LATER_TELL_FAN if tell else Retry.LATER
    return Retry.GAVE_UP if give_up_refund(uow, refund_id) else Retry.FINISHED


def retry_failed(uow: UnitOfWork, refund_id: UUID) -> Refund | None:
    """A new attempt at a FAILED refund under the same id (and so the same idempotency key at
    the gateway): PENDING again with its refund.pending event; None when it is not FAILED
    (finished, or retried already). NotFound, or ExceedsRefundable when the payment no
    longer has the amount left."""
    with uow:
        payment, refund = _locked(uow, refund_id)
        if refund.status is not RefundStatus.FAILED:
            return None
        refund.retry(payment, uow.clock())
        uow.repo.save_reservation(payment)
        uow.refunds.save(refund)
        uow.commit()
    return refund


def refund_email_kind(refund: Refund) -> str:
    return CONFIRMED if refund.status is RefundStatus.SUCCEEDED else FAILED


def notify_refund(
    uow: UnitOfWork,
    render: RefundEmailRenderer,
    mailer: Mailer,
    refund_id: UUID,
    delay_notice_after: timedelta | None = None,
) -> str | None:
    """Send the refund's one outcome e-mail in the payment's language; None if sent already.
    For a refund still PENDING `delay_notice_after` after it was requested: the one "refund
    on its way" e-mail instead (None once sent); earlier, NotReady. The refund row stays
    locked from the check to the record, as for payments."""
    with uow:
        refund = uow.refunds.get(refund_id, lock=True)
        if refund is None:
            raise NotFound(f"refund {refund_id}")
        if refund.status.terminal:
            kind = refund_email_kind(refund)
        elif delay_notice_after is not None and _delayed(uow, refund, delay_notice_after):
            kind = DELAYED
        else:
            raise NotReady(f"refund {refund_id} is still PENDING")
        if uow.refunds.email_sent(refund_id, kind):
            return None
        payment = uow.repo.get_payment(refund.payment_id)
        assert payment is not None
        message_id = mailer.send(render(payment, kind, refund))
        uow.refunds.record_email(refund_id, kind, message_id, outcome=kind != DELAYED)
        uow.commit()
    return message_id


def _delayed(uow: UnitOfWork, refund: Refund, after: timedelta) -> bool:
    return uow.clock() - refund.created_at >= after


def find_refund(uow: UnitOfWork, refund_id: UUID) -> Refund | None:
    with uow:
        return uow.refunds.get(refund_id)


def refunds_of(uow: UnitOfWork, payment_id: UUID) -> list[Refund]:
    with uow:
        return uow.refunds.of_payment(payment_id)


# event cancellation
def cancel_event(
    uow: SqlUnitOfWork, event_id: str, reason: str | None
) -> tuple[Cancellation, bool]:
    """Accept the event's cancellation once, with its event.cancelled event; the existing one
    (and False) when it was cancelled already. The refunds are made by the batches."""
    with uow:
        uow.refunds.lock_event(event_id, exclusive=True)
        existing = uow.refunds.get_cancellation(event_id)
        if existing is not None:
            return existing, False
        cancellation = Cancellation.accept(event_id, reason, uow.clock())
        created = uow.refunds.add_cancellation(cancellation)
        uow.commit()
    return cancellation, created


@dataclass(frozen=True)
class Batch:
    refunded: int
    finished: bool


def refund_cancellation_batch(
    uow: SqlUnitOfWork, event_id: str, limit: int = CANCELLATION_BATCH
) -> Batch:
    """One batch of the cancellation: a refund of all that is left for up to `limit` SUCCESS
    payments of the event without a refund of the cancellation's, in one transaction that
    also moves the cursor (a crash resumes from the last committed batch; the unique index
    refunds each payment once).

    Payments still PENDING are refunded by `settle` when they succeed (see `refund_if_cancelled`).
    """
    with uow:
        cancellation = uow.refunds.get_cancellation(event_id, lock=True)  # one batch at a time
        if cancellation is None:
            raise NotFound(f"cancellation of event {event_id}")
        if cancellation.scanned_at is not None:
            return Batch(0, True)
        payments, last = uow.refunds.unrefunded_paid(event_id, cancellation.cursor, limit)
        made = [r for p in payments if (r := _cancellation_refund(payment=p, now=uow.clock()))]
        uow.refunds.add_many(made)  # one statement each for the batch: rows and reservations
        refunded_ids = {r.payment_id for r in made}
        uow.repo.save_reservations([p for p in payments if p.id in refunded_ids])
        refunded = len(made)
        now = uow.clock()
        cancellation.cursor = last or cancellation.cursor
        cancellation.updated_at = now
        finished = last is None
        if finished:
            cancellation.scanned_at = now
        uow.refunds.save_cancellation(cancellation)
        uow.commit()
    return Batch(refunded, finished)


def _cancellation_refund(payment: Payment, now: datetime) -> Refund | None:
    """The cancellation's refund of all that `payment` has left (reserved on it), not yet
    stored; None when the refunds made before took it all already."""
    try:
        return Refund.for_cancellation(uuid.uuid4(), payment, now)
    except ExceedsRefundable:
        return None


def refund_if_cancelled(uow: UnitOfWork, payment: Payment) -> Refund | None:
    """Inside `settle`'s unit of work, for a payment that just reached SUCCESS: its refund if
    its event is cancelled. The event's shared lock makes a cancellation accepted meanwhile
    either visible here or wait until this payment is SUCCESS for its batches to see."""
    if not uow.refunds.cancelled(payment.event_id):
        return None
    refund = _cancellation_refund(payment, uow.clock())
    if refund is not None:
        uow.refunds.add(refund)
        uow.repo.save_reservation(payment)
    return refund


def event_is_cancelled(uow: UnitOfWork, event_id: str) -> bool:
    """Inside `place_payment`'s unit of work: whether the event is cancelled (shared lock)."""
    return uow.refunds.cancelled(event_id)
