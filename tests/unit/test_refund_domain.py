"""The refund state machine and the refundable-amount rule (pure domain, no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.domain import facts
from payments.domain.model import IllegalTransition, Payment, Status
from payments.domain.refund import (
    Cancellation,
    ExceedsRefundable,
    NotRefundable,
    ReasonReserved,
    Refund,
    RefundFailure,
    RefundReason,
    RefundStatus,
    refundable,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REASON = RefundReason.REQUESTED_BY_CUSTOMER


def paid(amount: str = "100.00", status: Status = Status.SUCCESS) -> Payment:
    return Payment(
        id=uuid.uuid4(),
        status=status,
        user_name="Ana",
        user_email="a@x.io",
        user_language="en",
        event_id="evt",
        amount=Decimal(amount),
        currency="BRL",
        created_at=NOW,
        updated_at=NOW,
    )


def test_partial_refunds_reserve_their_amounts_and_the_rest_can_follow() -> None:
    payment = paid()
    first = Refund.request(uuid.uuid4(), payment, Decimal("30.00"), REASON, NOW)
    second = Refund.request(uuid.uuid4(), payment, Decimal("20.00"), REASON, NOW)
    assert payment.amount_reserved == Decimal("50.00")
    assert refundable(payment) == Decimal("50.00")
    rest = Refund.request(uuid.uuid4(), payment, None, REASON, NOW)
    assert rest.amount == Decimal("50.00") and refundable(payment) == 0
    for refund, amount in ((first, "30.00"), (second, "20.00")):
        assert (refund.amount, refund.currency) == (Decimal(amount), "BRL")
        assert (refund.status, refund.reason) == (RefundStatus.PENDING, REASON)
        assert refund.created_at == refund.updated_at == NOW
        assert refund.facts == [facts.RefundPending(refund.id, payment.id)]


@pytest.mark.parametrize("amount", ["100.01", "0", "-1"])
def test_more_than_what_is_left_or_nothing_is_refused(amount: str) -> None:
    payment = paid()
    with pytest.raises(ExceedsRefundable) as caught:
        Refund.request(uuid.uuid4(), payment, Decimal(amount), REASON, NOW)
    assert caught.value.refundable == Decimal("100.00") and payment.amount_reserved == 0


def test_a_small_amount_below_one_unit_is_fine() -> None:
    refund = Refund.request(uuid.uuid4(), paid(), Decimal("0.50"), REASON, NOW)
    assert refund.amount == Decimal("0.50")


@pytest.mark.parametrize("status", [Status.PENDING, Status.FAILED])
def test_only_a_successful_payment_is_refundable(status: Status) -> None:
    with pytest.raises(NotRefundable):
        Refund.request(uuid.uuid4(), paid(status=status), None, REASON, NOW)


def test_a_failed_refund_frees_its_amount_and_a_finished_one_never_changes() -> None:
    payment = paid()
    refund = Refund.request(uuid.uuid4(), payment, Decimal("40.00"), REASON, NOW)
    refund.facts.clear()
    refund.fail(RefundFailure.GATEWAY_UNAVAILABLE, payment, NOW)
    assert payment.amount_reserved == 0
    assert (refund.status, refund.failure_reason) == (
        RefundStatus.FAILED,
        RefundFailure.GATEWAY_UNAVAILABLE,
    )
    assert refund.facts == [facts.RefundFailed(refund.id, payment.id, "gateway_unavailable")]
    with pytest.raises(IllegalTransition):
        refund.succeed(NOW)
    ok = Refund.request(uuid.uuid4(), payment, None, REASON, NOW)
    ok.facts.clear()
    ok.succeed(NOW)
    assert ok.facts == [facts.RefundSucceeded(ok.id, payment.id)]
    with pytest.raises(IllegalTransition):
        ok.fail(RefundFailure.GATEWAY_UNAVAILABLE, payment, NOW)
    with pytest.raises(IllegalTransition):
        refund.fail(RefundFailure.GATEWAY_UNAVAILABLE, paid(), NOW)  # another payment


def test_a_cancellation_records_its_event() -> None:
    cancellation = Cancellation.accept("evt-9", "storm", NOW)
    assert (cancellation.event_id, cancellation.reason) == ("evt-9", "storm")
    assert cancellation.created_at == cancellation.updated_at == NOW
    assert cancellation.facts == [facts.EventCancelled("evt-9", "storm")]


def test_event_cancelled_is_the_cancellations_reason_alone() -> None:
    payment = paid()
    with pytest.raises(ReasonReserved):
        Refund.request(uuid.uuid4(), payment, Decimal("10.00"), RefundReason.EVENT_CANCELLED, NOW)
    assert payment.amount_reserved == 0
    own = Refund.request(uuid.uuid4(), payment, Decimal("30.00"), REASON, NOW)
    cancellation = Refund.for_cancellation(uuid.uuid4(), payment, NOW)
    assert (own.by_cancellation, cancellation.by_cancellation) == (False, True)
    assert (cancellation.reason, cancellation.amount) == (
        RefundReason.EVENT_CANCELLED,
        Decimal("70.00"),  # all that the fan's own refund left
    )
    with pytest.raises(ExceedsRefundable):
        Refund.for_cancellation(uuid.uuid4(), payment, NOW)  # nothing left


def test_a_failed_refund_can_be_tried_again_while_its_amount_is_left() -> None:
    payment = paid()
    refund = Refund.request(uuid.uuid4(), payment, Decimal("60.00"), REASON, NOW)
    with pytest.raises(IllegalTransition):
        refund.retry(payment, NOW)  # PENDING: nothing to retry
    refund.fail(RefundFailure.GATEWAY_UNAVAILABLE, payment, NOW)
    refund.facts.clear()
    later = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    refund.retry(payment, later)
    assert (refund.status, refund.failure_reason, refund.updated_at) == (
        RefundStatus.PENDING,
        None,
        later,
    )
    assert payment.amount_reserved == Decimal("60.00")
    assert refund.facts == [facts.RefundPending(refund.id, payment.id)]
    refund.fail(RefundFailure.GATEWAY_UNAVAILABLE, payment, NOW)
    Refund.request(uuid.uuid4(), payment, Decimal("50.00"), REASON, NOW)  # refunded otherwise
    with pytest.raises(ExceedsRefundable):
        refund.retry(payment, NOW)
    assert refund.status is RefundStatus.FAILED
    with pytest.raises(IllegalTransition):
        refund.retry(paid(), NOW)  # another payment
