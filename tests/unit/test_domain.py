"""The payment and transaction state machines and the gateway rule."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.domain import facts
from payments.domain.gateway_rule import TransientGatewayError, decide
from payments.domain.model import IllegalTransition, Payment, Reason, Status, Transaction

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def new_payment(**overrides: object) -> Payment:
    details = {
        "user_name": "Ana",
        "user_email": "ana@example.com",
        "user_language": "pt_BR",
        "event_id": "e1",
        "amount": Decimal("125.50"),
        "currency": "BRL",
        "payment_token": "TOKEN123",
    }
    details.update(overrides)
    return Payment.place(uuid.uuid4(), NOW, **details)


def test_placing_a_payment_records_payment_created() -> None:
    payment = new_payment()
    assert payment.status is Status.PENDING
    assert payment.facts == [facts.PaymentCreated(payment.id)]


def test_transaction_success_settles_payment_success() -> None:
    payment = new_payment()
    tx = Transaction.open(uuid.uuid4(), payment.id, NOW)
    assert tx.facts == [facts.TransactionCreated(tx.id, payment.id)]
    tx.complete(Status.SUCCESS, None, NOW)
    payment.settle(tx, NOW)
    assert payment.status is Status.SUCCESS
    assert payment.facts[-1] == facts.PaymentSucceeded(payment.id)


def test_transaction_failure_settles_payment_failed_with_reason() -> None:
    payment = new_payment()
    tx = Transaction.open(uuid.uuid4(), payment.id, NOW)
    tx.complete(Status.FAILED, Reason.REJECTED_BY_GATEWAY, NOW)
    assert tx.facts[-1] == facts.TransactionFailed(tx.id, payment.id, "rejected_by_gateway")
    payment.settle(tx, NOW)
    assert payment.status is Status.FAILED
    assert payment.failure_reason is Reason.REJECTED_BY_GATEWAY
    assert payment.facts[-1] == facts.PaymentFailed(payment.id, "rejected_by_gateway")


def test_terminal_states_never_change() -> None:
    payment = new_payment()
    tx = Transaction.open(uuid.uuid4(), payment.id, NOW)
    tx.complete(Status.SUCCESS, None, NOW)
    with pytest.raises(IllegalTransition):
        tx.complete(Status.FAILED, Reason.REJECTED_BY_GATEWAY, NOW)
    payment.settle(tx, NOW)
    with pytest.raises(IllegalTransition):
        payment.settle(tx, NOW)


def test_payment_cannot_settle_on_pending_or_foreign_transaction() -> None:
    payment = new_payment()
    pending = Transaction.open(uuid.uuid4(), payment.id, NOW)
    with pytest.raises(IllegalTransition):
        payment.settle(pending, NOW)
    foreign = Transaction.open(uuid.uuid4(), uuid.uuid4(), NOW)
    foreign.complete(Status.SUCCESS, None, NOW)
    with pytest.raises(IllegalTransition):
        payment.settle(foreign, NOW)


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [(Status.SUCCESS, Reason.REJECTED_BY_GATEWAY), (Status.FAILED, None), (Status.PENDING, None)],
)
def test_inconsistent_outcomes_are_illegal(outcome: Status, reason: Reason | None) -> None:
    tx = Transaction.open(uuid.uuid4(), uuid.uuid4(), NOW)
    with pytest.raises(IllegalTransition):
        tx.complete(outcome, reason, NOW)
    assert tx.status is Status.PENDING


def test_forget_token_erases_it() -> None:
    payment = new_payment()
    payment.forget_token()
    assert payment.payment_token is None


@pytest.mark.parametrize(
    ("token", "amount", "status", "reason"),
    [
        ("TOKEN123", Decimal("10"), Status.SUCCESS, None),
        ("ODD12", Decimal("10"), Status.FAILED, Reason.REJECTED_BY_GATEWAY),
        ("", Decimal("10"), Status.FAILED, Reason.INVALID_PAYMENT_DATA),
        (None, Decimal("10"), Status.FAILED, Reason.INVALID_PAYMENT_DATA),
        ("TOKEN123", Decimal("0"), Status.FAILED, Reason.INVALID_PAYMENT_DATA),
        ("TOKEN123", Decimal("-1"), Status.FAILED, Reason.INVALID_PAYMENT_DATA),
    ],
)
def test_gateway_rule(
    token: str | None, amount: Decimal, status: Status, reason: Reason | None
) -> None:
    decision = decide(token, amount, transient_roll=0.99, failure_rate=0.5)
    assert (decision.status, decision.reason) == (status, reason)


def test_gateway_transient_failure_comes_after_invalid_data_check() -> None:
    with pytest.raises(TransientGatewayError):
        decide("TOKEN123", Decimal("1"), transient_roll=0.1, failure_rate=0.5)
    invalid = decide("", Decimal("1"), transient_roll=0.1, failure_rate=0.5)
    assert invalid.reason is Reason.INVALID_PAYMENT_DATA
