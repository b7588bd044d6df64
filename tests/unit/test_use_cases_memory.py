"""The use cases on the in-memory unit of work: milliseconds, no service reachable.

The integration tier (`tests/integration/test_use_cases.py`) runs the same paths on
PostgreSQL with its locks and races; here the rules themselves: one transaction, one
terminal change and one e-mail per payment, events beside every change, nothing kept from
a change that failed.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from payments import recovery, services
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.db.memory import MemoryStore, MemoryUnitOfWork
from payments.domain.gateway_rule import Decision, TransientGatewayError
from payments.domain.model import Payment, Reason, Status
from payments.domain.refund import Cancellation, EventIsCancelled
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


def render(payment: Payment, kind: str, decline_code: str | None = None) -> Email:
    return Email(payment.user_email, kind, f"{kind} {payment.id}", f"<p>{kind}</p>")


def types(store: MemoryStore, payment_id: uuid.UUID) -> list[str]:
    return [m.message_type for m in store.outbox if m.key == str(payment_id)]


def run(uow: MemoryUnitOfWork, token: str = "TOKEN123") -> tuple[Payment, FakeMailer]:
    """A payment through every step once."""
    mailer = FakeMailer()
    payment = services.place_payment(uow, place_command(token))
    services.charge_payment(uow, FakeGateway(), payment.id)
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
    assert services.charge_payment(uow, FakeGateway(), payment.id) is None
    assert (
        services.record_decision(uow, tx[1].id, Decision(Status.FAILED, Reason.REJECTED_BY_GATEWAY))
        is None
    )
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
    gateway = FakeGateway(transient_failures=1)
    with pytest.raises(TransientGatewayError):
        services.charge_payment(uow, gateway, payment.id)
    [tx] = store.transactions.values()  # opened before the gateway was asked
    assert tx.status is Status.PENDING
    assert store.payments[payment.id].payment_token == "TOKEN123"
    settled = services.give_up_on_gateway(uow, gateway, payment.id)
    assert gateway.resolved == [tx.id]  # asked to make sure nothing was charged first
    assert settled is not None and settled.failure_reason is Reason.GATEWAY_UNAVAILABLE
    assert store.transactions[tx.id].reason is Reason.GATEWAY_UNAVAILABLE
    assert services.give_up_on_gateway(uow, gateway, payment.id) is None  # once


def test_an_answer_lost_after_the_charge_never_ends_failed(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = services.place_payment(uow, place_command())
    gateway = FakeGateway(transient_failures=1, charged_before_failing=True)
    with pytest.raises(TransientGatewayError):
        services.charge_payment(uow, gateway, payment.id)
    settled = services.give_up_on_gateway(uow, gateway, payment.id)
    assert settled is not None and settled.status is Status.SUCCESS
    [tx] = store.transactions.values()
    assert tx.status is Status.SUCCESS and tx.gateway_reference is not None


def test_a_gateway_that_cannot_tell_leaves_the_payment_pending(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    class Unreachable(FakeGateway):
        def resolve(self, charge):  # type: ignore[no-untyped-def]
            raise TransientGatewayError("still down")

    payment = services.place_payment(uow, place_command())
    gateway = Unreachable(transient_failures=1)
    with pytest.raises(TransientGatewayError):
        services.charge_payment(uow, gateway, payment.id)
    with pytest.raises(TransientGatewayError):
        services.give_up_on_gateway(uow, gateway, payment.id)
    assert store.payments[payment.id].status is Status.PENDING
    assert services.charge_payment(uow, FakeGateway(), payment.id) is not None  # the sweep's turn


def test_a_decline_keeps_the_gateway_reference_and_decline_code(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    class Declining(FakeGateway):
        def charge(self, charge):  # type: ignore[no-untyped-def]
            return Decision(Status.FAILED, Reason.REJECTED_BY_GATEWAY, "pi_1", "insufficient_funds")

    payment = services.place_payment(uow, place_command())
    settled = services.charge_payment(uow, Declining(), payment.id)
    assert settled is not None and settled.failure_reason is Reason.REJECTED_BY_GATEWAY
    [tx] = store.transactions.values()
    assert (tx.gateway_reference, tx.decline_code) == ("pi_1", "insufficient_funds")
    assert store.payments[payment.id].payment_token is None  # erased with the answer


def test_a_charge_waiting_for_the_cardholder_stays_pending_and_is_not_asked_again(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    class Authenticating(FakeGateway):
        def charge(self, charge):  # type: ignore[no-untyped-def]
            self.calls.append(charge.transaction_id)
            return Decision(Status.PENDING, reference="pi_3ds")

    payment = services.place_payment(uow, place_command())
    gateway = Authenticating()
    assert services.charge_payment(uow, gateway, payment.id) is None
    assert services.charge_payment(uow, gateway, payment.id) is None  # a redelivery
    assert len(gateway.calls) == 1
    [tx] = store.transactions.values()
    assert tx.status is Status.PENDING and tx.gateway_reference == "pi_3ds"
    assert store.payments[payment.id].status is Status.PENDING


def test_a_failed_mail_send_records_no_email(uow: MemoryUnitOfWork, store: MemoryStore) -> None:
    payment = services.place_payment(uow, place_command())
    services.charge_payment(uow, FakeGateway(), payment.id)
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
        (fresh.id, Step.CHARGE),
        (opened.id, Step.CHARGE),
    ]
    assert plan.finished == [done.id] and plan.unknown == [unknown]


# Behaviour the mutation run (make mutation) found untested at this tier.
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clocked(store: MemoryStore) -> MemoryUnitOfWork:
    return MemoryUnitOfWork(store, clock=lambda: NOW)


def test_every_change_is_stamped_with_the_unit_of_works_clock(
    clocked: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = services.place_payment(clocked, place_command())
    services.charge_payment(clocked, FakeGateway(), payment.id)
    [stored_tx] = store.transactions.values()
    stored = store.payments[payment.id]
    assert stored.created_at == stored.updated_at == NOW
    assert stored_tx.created_at == stored_tx.updated_at == NOW
    assert [m.occurred_at for m in store.outbox] == [NOW] * 4


def test_the_before_commit_step_gets_the_unit_of_work_and_the_payment(
    uow: MemoryUnitOfWork,
) -> None:
    seen: list[tuple[object, object]] = []
    payment = services.place_payment(
        uow, place_command(), before_commit=lambda u, p: seen.append((u, p))
    )
    assert seen == [(uow, payment)]


def test_the_gateway_is_asked_with_the_transaction_id_and_its_answer_returned(
    uow: MemoryUnitOfWork,
) -> None:
    payment = services.place_payment(uow, place_command())
    tx = services.open_transaction(uow, payment.id)
    assert tx is not None
    gateway = FakeGateway()
    settled = services.charge_payment(uow, gateway, payment.id)
    assert gateway.calls == [tx.id]
    assert settled is not None and settled.status is Status.SUCCESS
    assert services.give_up_on_gateway(uow, gateway, payment.id) is None  # finished already


def test_a_payment_answered_but_not_settled_by_the_previous_flow_is_settled_without_a_charge(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment = services.place_payment(uow, place_command())
    tx = services.open_transaction(uow, payment.id)
    assert tx is not None
    store.transactions[tx.id].status = Status.SUCCESS  # the old process_transaction's work
    gateway = FakeGateway()
    settled = services.charge_payment(uow, gateway, payment.id)
    assert gateway.calls == []
    assert settled is not None and settled.status is Status.SUCCESS
    assert types(store, payment.id)[-1] == "payment.succeeded"


def test_a_finished_payment_gets_no_transaction(uow: MemoryUnitOfWork, store: MemoryStore) -> None:
    payment = services.place_payment(uow, place_command())
    store.payments[payment.id].status = Status.FAILED  # finished without one (an old row)
    assert services.open_transaction(uow, payment.id) is None
    assert store.transactions == {}


def test_the_recorded_email_keeps_the_servers_message_id(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment, mailer = run(uow)
    assert store.emails == {(payment.id, "approved"): "<fake-1@test>"}
    assert len(mailer.outbox) == 1


def test_a_cancelled_event_takes_no_payment_and_refunds_the_ones_that_succeed(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    paid_later = services.place_payment(uow, place_command(event_id="evt-x"))
    failed_later = services.place_payment(uow, place_command("ODD12", event_id="evt-x"))
    store.cancellations["evt-x"] = Cancellation.accept("evt-x", None, NOW)
    with pytest.raises(EventIsCancelled):
        services.place_payment(uow, place_command(event_id="evt-x"))
    services.place_payment(uow, place_command(event_id="evt-y"))  # other events: as usual
    for payment in (paid_later, failed_later):
        services.charge_payment(uow, FakeGateway(), payment.id)
    refunded = {r.payment_id: r for r in store.refunds.values()}
    assert set(refunded) == {paid_later.id}  # the FAILED one is not refunded
    assert refunded[paid_later.id].amount == paid_later.amount
    assert store.payments[paid_later.id].amount_reserved == paid_later.amount


def test_transaction_events_name_their_transaction(
    uow: MemoryUnitOfWork, store: MemoryStore
) -> None:
    payment, _mailer = run(uow)
    found = services.find_payment(uow, payment.id)
    assert found is not None and found[1] is not None
    tx_events = [m for m in store.outbox if m.message_type.startswith("transaction.")]
    assert [m.payload["transaction_id"] for m in tx_events] == [str(found[1].id)] * 2
