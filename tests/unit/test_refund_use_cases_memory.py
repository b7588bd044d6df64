"""The refund use cases on the in-memory unit of work (issue 27: refunds as complete as
payments): request, the gateway's outcome, retries, give-up, a retry by hand and the
e-mails, in milliseconds. The integration tier runs them on PostgreSQL with its locks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from payments import refunds, services
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.db.memory import MemoryStore, MemoryUnitOfWork
from payments.domain.gateway_rule import TransientGatewayError
from payments.domain.model import Payment
from payments.domain.refund import (
    ExceedsRefundable,
    NotRefundable,
    Refund,
    RefundFailure,
    RefundReason,
    RefundStatus,
)
from payments.errors import NotFound, NotReady
from payments.ports import Email
from tests.support.factories import place_command

START = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def uow(store: MemoryStore, clock: Clock) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(store, clock=clock)


def render(payment: Payment, kind: str, refund: Refund) -> Email:
    return Email(payment.user_email, kind, f"{kind} {refund.id}", f"<p>{kind}</p>")


def paid(uow: MemoryUnitOfWork, amount: str = "100.00") -> Payment:
    payment = services.place_payment(uow, place_command(amount=Decimal(amount)))
    services.charge_payment(uow, FakeGateway(), payment.id)
    return payment


def events_of(store: MemoryStore, refund: Refund) -> list[str]:
    return [m.message_type for m in store.outbox if m.payload.get("refund_id") == str(refund.id)]


def test_a_refund_is_requested_refunded_once_and_told_once(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = paid(uow)
    refund = refunds.request_refund(
        uow, payment.id, Decimal("30.00"), RefundReason.REQUESTED_BY_CUSTOMER
    )
    assert refund.status is RefundStatus.PENDING
    assert store.payments[payment.id].amount_reserved == Decimal("30.00")

    gateway, mailer = FakeGateway(), FakeMailer()
    assert refunds.refund_through_gateway(uow, gateway, refund.id) is RefundStatus.SUCCEEDED
    assert refunds.refund_through_gateway(uow, gateway, refund.id) is None  # finished already
    assert gateway.refunds == [refund.id]  # the gateway was asked once

    assert refunds.notify_refund(uow, render, mailer, refund.id) is not None
    assert refunds.notify_refund(uow, render, mailer, refund.id) is None  # once
    assert [(e.subject, e.text) for e in mailer.outbox] == [
        ("refund_confirmed", f"refund_confirmed {refund.id}")
    ]
    assert events_of(store, refund) == ["refund.pending", "refund.succeeded"]
    assert [r.status for r in refunds.refunds_of(uow, payment.id)] == [RefundStatus.SUCCEEDED]


def test_what_is_refundable_is_the_amount_less_every_refund_not_failed(
    uow: MemoryUnitOfWork,
) -> None:
    payment = paid(uow)
    refunds.request_refund(uow, payment.id, Decimal("60.00"), RefundReason.DUPLICATE)
    with pytest.raises(ExceedsRefundable):
        refunds.request_refund(uow, payment.id, Decimal("40.01"), RefundReason.DUPLICATE)
    rest = refunds.request_refund(uow, payment.id, None, RefundReason.REQUESTED_BY_CUSTOMER)
    assert rest.amount == Decimal("40.00")
    with pytest.raises(NotFound):
        refunds.request_refund(uow, uuid.uuid4(), None, RefundReason.DUPLICATE)


def test_a_payment_not_succeeded_is_not_refundable(uow: MemoryUnitOfWork) -> None:
    pending = services.place_payment(uow, place_command())
    with pytest.raises(NotRefundable):
        refunds.request_refund(uow, pending.id, None, RefundReason.REQUESTED_BY_CUSTOMER)


def test_an_outage_is_retried_later_then_given_up_and_the_amount_freed(
    uow: MemoryUnitOfWork, store: MemoryStore, clock: Clock
) -> None:
    payment = paid(uow)
    refund = refunds.request_refund(uow, payment.id, None, RefundReason.REQUESTED_BY_CUSTOMER)
    with pytest.raises(TransientGatewayError):
        refunds.refund_through_gateway(uow, FakeGateway(transient_failures=1), refund.id)

    window, delay = timedelta(hours=72), timedelta(minutes=5)
    decided = refunds.retry_refund_later(uow, refund.id, delay, window, timedelta(hours=24))
    assert decided is refunds.Retry.LATER
    assert store.refund_attempts[refund.id] == START + delay
    clock.now = START + timedelta(hours=25)  # past the notice: the fan is owed a word
    decided = refunds.retry_refund_later(uow, refund.id, delay, window, timedelta(hours=24))
    assert decided is refunds.Retry.LATER_TELL_FAN
    mailer = FakeMailer()
    refunds.notify_refund(uow, render, mailer, refund.id, timedelta(hours=24))
    assert [e.subject for e in mailer.outbox] == ["refund_delayed"]

    clock.now = START + window
    assert refunds.retry_refund_later(uow, refund.id, delay, window) is refunds.Retry.GAVE_UP
    stored = store.refunds[refund.id]
    assert stored.status is RefundStatus.FAILED
    assert stored.failure_reason is RefundFailure.GATEWAY_UNAVAILABLE
    assert store.payments[payment.id].amount_reserved == Decimal(0)  # refundable again
    assert refunds.retry_refund_later(uow, refund.id, delay, window) is refunds.Retry.FINISHED
    assert events_of(store, refund) == ["refund.pending", "refund.failed"]


def test_a_failed_refund_retried_by_hand_keeps_its_id_and_is_owed_its_outcome_anew(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = paid(uow)
    refund = refunds.request_refund(uow, payment.id, None, RefundReason.REQUESTED_BY_CUSTOMER)
    assert refunds.give_up_refund(uow, refund.id)
    mailer = FakeMailer()
    refunds.notify_refund(uow, render, mailer, refund.id)

    again = refunds.retry_failed(uow, refund.id)
    assert again is not None and again.id == refund.id and again.status is RefundStatus.PENDING
    assert refunds.retry_failed(uow, refund.id) is None  # not FAILED any more
    with pytest.raises(NotReady):
        refunds.notify_refund(uow, render, mailer, refund.id)  # nothing to say while PENDING
    assert refunds.refund_through_gateway(uow, FakeGateway(), refund.id)
    refunds.notify_refund(uow, render, mailer, refund.id)
    assert [e.subject.split()[0] for e in mailer.outbox] == ["refund_failed", "refund_confirmed"]
    assert events_of(store, refund) == [
        "refund.pending",
        "refund.failed",
        "refund.pending",
        "refund.succeeded",
    ]


def test_nothing_is_kept_of_a_refund_whose_transaction_failed(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = paid(uow)

    def boom(_uow: MemoryUnitOfWork, _refund: Refund) -> None:
        raise RuntimeError("the idempotency record could not be written")

    with pytest.raises(RuntimeError):
        refunds.request_refund(
            uow, payment.id, None, RefundReason.REQUESTED_BY_CUSTOMER, before_commit=boom
        )
    assert store.refunds == {}
    assert store.payments[payment.id].amount_reserved == Decimal(0)
