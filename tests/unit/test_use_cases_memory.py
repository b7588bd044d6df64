"""The use cases on the in-memory unit of work: milliseconds, no service reachable.

The integration tier (`tests/integration/test_use_cases.py`) runs the same paths on
PostgreSQL with its locks and races; here the rules themselves: one transaction, one
terminal change and one e-mail per payment, events beside every change, nothing kept from
a change that failed.
"""

from __future__ import annotations

import uuid

import pytest

from payments import recovery, services
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.db.memory import MemoryStore, MemoryUnitOfWork
from payments.domain.gateway_rule import TransientGatewayError
from payments.domain.model import Payment, Reason, Status
from payments.errors import NotFound, NotReady
from payments.ports import Email
from payments.recovery import Step
from tests.support.factories import place_command


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def uow(store: MemoryStore) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(store)


def render(payment: Payment, kind: str) -> Email:
    return Email(payment.user_email, kind, f"{kind} {payment.id}", f"<p>{kind}</p>")


def types(store: MemoryStore, payment_id: uuid.UUID) -> list[str]:
    return [m.event_type for m in store.outbox if m.key == str(payment_id)]


def run(uow: MemoryUnitOfWork, token: str = "TOKEN123") -> tuple[Payment, FakeMailer]:
    """A payment through every step once."""
    mailer = FakeMailer()
    payment = services.place_payment(uow, place_command(token))
    tx = services.open_transaction(uow, payment.id)
    assert tx is not None
    services.charge(uow, FakeGateway(), tx.id)
    services.settle(uow, tx.id)
    services.notify(uow, render, mailer, payment.id)
    return payment, mailer


@pytest.mark.parametrize(
    ("token", "status", "last"),
    [("TOKEN123", Status.SUCCESS, "payment.succeeded"), ("ODD12", Status.FAILED, "payment.failed")],
)
def test_a_payment_goes_through_every_step_with_an_event_each(
    uow: MemoryUnitOfWork, store: MemoryStore, token: str, status: Status, last: str
) -> None:
    payment, mailer = run(uow, token)
    assert store.payments[payment.id].status is status
    assert store.payments[payment.id].payment_token is None  # erased once the gateway answered
    assert types(store, payment.id) == [
        "payment.created",
        "transaction.created",
        "transaction.succeeded" if status is Status.SUCCESS else "transaction.failed",
        last,
    ]
    assert [e.subject for e in mailer.outbox] == [
        "approved" if status is Status.SUCCESS else "rejected"
    ]


def test_every_step_run_again_changes_nothing(uow: MemoryUnitOfWork, store: MemoryStore) -> None:
    payment, mailer = run(uow)
    tx = services.find_payment(uow, payment.id)
    assert tx is not None and tx[1] is not None
    before = (len(store.outbox), dict(store.emails), set(store.changes))
    assert services.open_transaction(uow, payment.id) is None
    assert services.charge(uow, FakeGateway(), tx[1].id) is None
    assert services.settle(uow, tx[1].id) is None
    assert services.notify(uow, render, mailer, payment.id) is None
    assert (len(store.outbox), dict(store.emails), set(store.changes)) == before
    assert len(mailer.outbox) == 1


def test_steps_asked_for_too_early_are_not_ready(uow: MemoryUnitOfWork) -> None:
    payment = services.place_payment(uow, place_command())
    tx = services.open_transaction(uow, payment.id)
    assert tx is not None
    with pytest.raises(NotReady):
        services.settle(uow, tx.id)
    with pytest.raises(NotReady):
        services.notify(uow, render, FakeMailer(), payment.id)
    with pytest.raises(NotFound):
        services.open_transaction(uow, uuid.uuid4())


def test_a_transient_gateway_error_records_nothing_and_giving_up_fails_the_payment(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = services.place_payment(uow, place_command())
    tx = services.open_transaction(uow, payment.id)
    assert tx is not None
    with pytest.raises(TransientGatewayError):
        services.charge(uow, FakeGateway(transient_failures=1), tx.id)
    assert store.transactions[tx.id].status is Status.PENDING
    assert store.payments[payment.id].payment_token == "TOKEN123"
    assert services.give_up_on_gateway(uow, tx.id)
    settled = services.settle(uow, tx.id)
    assert settled is not None and settled.failure_reason is Reason.GATEWAY_UNAVAILABLE


def test_a_failed_mail_send_records_no_email(uow: MemoryUnitOfWork, store: MemoryStore) -> None:
    payment = services.place_payment(uow, place_command())
    tx = services.open_transaction(uow, payment.id)
    assert tx is not None
    services.charge(uow, FakeGateway(), tx.id)
    services.settle(uow, tx.id)
    mailer = FakeMailer()
    mailer.down = True
    with pytest.raises(ConnectionRefusedError):
        services.notify(uow, render, mailer, payment.id)
    assert store.emails == {}
    mailer.down = False
    assert services.notify(uow, render, mailer, payment.id) is not None


def test_a_change_that_raises_before_commit_leaves_nothing(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    def fail(_uow: MemoryUnitOfWork, _payment: Payment) -> None:
        raise RuntimeError("the idempotent response could not be stored")

    with pytest.raises(RuntimeError):
        services.place_payment(uow, place_command(), before_commit=fail)
    assert store.payments == {} and store.outbox == []


def test_recovery_plans_the_step_each_payment_waits_for(uow: MemoryUnitOfWork) -> None:
    fresh = services.place_payment(uow, place_command())
    opened = services.place_payment(uow, place_command())
    tx = services.open_transaction(uow, opened.id)
    assert tx is not None
    done, _mailer = run(uow)
    plan = recovery.plan_for_ids(uow, [fresh.id, opened.id, done.id, unknown := uuid.uuid4()])
    assert [(r.payment_id, r.step) for r in plan.redrives] == [
        (fresh.id, Step.OPEN_TRANSACTION),
        (opened.id, Step.CHARGE),
    ]
    assert plan.finished == [done.id] and plan.unknown == [unknown]
