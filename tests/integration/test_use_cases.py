"""The use cases on real PostgreSQL: one transaction per change, outbox rows beside it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from payments import services
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container
from payments.domain.model import Payment, Status
from payments.ports import Email
from tests.support.factories import place_command


def outbox_types(engine: Engine, payment_id: uuid.UUID) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_type FROM outbox WHERE message_key = :k ORDER BY id"),
            {"k": str(payment_id)},
        )
        return [r[0] for r in rows]


def render(payment: Payment, kind: str, decline_code: str | None = None) -> Email:
    return Email(payment.user_email, kind, f"{kind} {payment.id}", f"<p>{kind}</p>")


def test_placing_a_payment_writes_it_and_its_event_together(
    container: Container, engine: Engine
) -> None:
    payment = services.place_payment(container.uow(), place_command())
    found = services.find_payment(container.uow(), payment.id)
    assert found is not None and found[0].status is Status.PENDING and found[1] is None
    assert found[0].amount == Decimal("125.50")
    assert outbox_types(engine, payment.id) == ["payment.created"]


def test_no_event_for_a_change_that_rolled_back(container: Container, engine: Engine) -> None:
    payment_id = uuid.uuid4()
    with pytest.raises(RuntimeError), container.uow() as uow:
        uow.repo.add_payment(Payment.place(payment_id, uow.clock(), **place_command().__dict__))
        raise RuntimeError("boom before commit")
    assert services.find_payment(container.uow(), payment_id) is None
    assert outbox_types(engine, payment_id) == []


def test_full_pipeline_is_idempotent_at_every_step(container: Container, engine: Engine) -> None:
    gateway, mailer = FakeGateway(), FakeMailer()
    payment = services.place_payment(container.uow(), place_command("TOKEN123"))

    tx = services.open_transaction(container.uow(), payment.id)
    assert tx is not None
    assert services.open_transaction(container.uow(), payment.id) is None

    settled = services.charge_payment(container.uow(), gateway, payment.id)
    assert settled is not None and settled.status is Status.SUCCESS
    assert services.charge_payment(container.uow(), gateway, payment.id) is None
    assert gateway.calls == [tx.id]
    assert services.settle(container.uow(), tx.id) is None

    assert services.notify(container.uow(), render, mailer, payment.id)
    assert services.notify(container.uow(), render, mailer, payment.id) is None
    assert [m.subject for m in mailer.outbox] == ["approved"]

    assert outbox_types(engine, payment.id) == [
        "payment.created",
        "transaction.created",
        "transaction.succeeded",
        "payment.succeeded",
    ]
    with engine.connect() as conn:
        token = conn.execute(
            text("SELECT payment_token FROM payments WHERE id = :id"), {"id": payment.id}
        ).scalar()
        changes = conn.execute(
            text(
                "SELECT entity, to_status FROM status_changes "
                "WHERE payment_id = :id ORDER BY entity"
            ),
            {"id": payment.id},
        ).all()
    assert token is None
    assert [tuple(c) for c in changes] == [("payment", "SUCCESS"), ("transaction", "SUCCESS")]


def test_odd_token_fails_and_settles_failed(container: Container, engine: Engine) -> None:
    payment = services.place_payment(container.uow(), place_command("ODD12"))
    settled = services.charge_payment(container.uow(), FakeGateway(), payment.id)
    assert settled is not None and settled.status is Status.FAILED
    found = services.find_payment(container.uow(), payment.id)
    assert found is not None and found[1] is not None
    assert found[1].reason is not None and found[1].reason.value == "rejected_by_gateway"
    assert outbox_types(engine, payment.id)[-1] == "payment.failed"


def test_out_of_order_steps_wait_or_change_nothing(container: Container) -> None:
    payment = services.place_payment(container.uow(), place_command())
    with pytest.raises(services.NotReady):
        services.notify(container.uow(), render, FakeMailer(), payment.id)
    tx = services.open_transaction(container.uow(), payment.id)
    assert tx is not None
    with pytest.raises(services.NotReady):
        services.settle(container.uow(), tx.id)
    with pytest.raises(services.NotFound):
        services.charge_payment(container.uow(), FakeGateway(), uuid.uuid4())


def test_gateway_exhaustion_fails_with_gateway_unavailable(container: Container) -> None:
    payment = services.place_payment(container.uow(), place_command())
    assert services.open_transaction(container.uow(), payment.id) is not None
    gateway = FakeGateway()  # never charged: nothing stands at the gateway
    settled = services.give_up_on_gateway(container.uow(), gateway, payment.id)
    assert services.give_up_on_gateway(container.uow(), gateway, payment.id) is None
    assert settled is not None and settled.failure_reason is not None
    assert settled.failure_reason.value == "gateway_unavailable"


def test_mailer_failure_records_nothing_and_can_be_retried(container: Container) -> None:
    mailer = FakeMailer()
    payment = services.place_payment(container.uow(), place_command("ODD12"))
    services.charge_payment(container.uow(), FakeGateway(), payment.id)
    mailer.down = True
    with pytest.raises(ConnectionRefusedError):
        services.notify(container.uow(), render, mailer, payment.id)
    mailer.down = False
    assert services.notify(container.uow(), render, mailer, payment.id)
    assert [m.subject for m in mailer.outbox] == ["rejected"]


def test_a_transaction_read_with_its_payment_locks_the_payment_row_only(
    container: Container, engine: Engine
) -> None:
    payment = services.place_payment(container.uow(), place_command())
    tx = services.open_transaction(container.uow(), payment.id)
    assert tx is not None
    nowait = "SELECT 1 FROM {table} WHERE id = :id FOR UPDATE NOWAIT"
    with container.uow() as uow, engine.connect() as other:
        found = uow.repo.transaction_with_payment(tx.id, lock_payment=True)
        assert found is not None
        read_tx, read_payment = found
        assert (read_tx.id, read_tx.payment_id, read_tx.status) == (tx.id, payment.id, tx.status)
        assert (read_payment.id, read_payment.amount) == (payment.id, payment.amount)
        other.execute(text(nowait.format(table="transactions")), {"id": tx.id})  # free
        with pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(text(nowait.format(table="payments")), {"id": payment.id})
    with container.uow() as uow:
        assert uow.repo.transaction_with_payment(uuid.uuid4()) is None


def test_a_transaction_read_for_its_decision_locks_both_rows(
    container: Container, engine: Engine
) -> None:
    payment = services.place_payment(container.uow(), place_command())
    tx = services.open_transaction(container.uow(), payment.id)
    assert tx is not None
    nowait = "SELECT 1 FROM {table} WHERE id = :id FOR UPDATE NOWAIT"
    with container.uow() as uow, engine.connect() as other:
        found = uow.repo.transaction_with_payment(tx.id, lock_payment=True, lock_transaction=True)
        assert found is not None and found[0].id == tx.id and found[1].id == payment.id
        for table, row_id in (("transactions", tx.id), ("payments", payment.id)):
            with pytest.raises(OperationalError, match="could not obtain lock"):
                other.execute(text(nowait.format(table=table)), {"id": row_id})
            other.rollback()


def test_a_payment_read_with_its_transaction_locks_the_payment_row_only(
    container: Container, engine: Engine
) -> None:
    payment = services.place_payment(container.uow(), place_command())
    with container.uow() as uow:
        assert uow.repo.payment_with_transaction(payment.id) == (payment, None)
        assert uow.repo.payment_with_transaction(uuid.uuid4()) is None
    tx = services.open_transaction(container.uow(), payment.id)
    assert tx is not None
    nowait = "SELECT 1 FROM {table} WHERE id = :id FOR UPDATE NOWAIT"
    with container.uow() as uow, engine.connect() as other:
        found = uow.repo.payment_with_transaction(payment.id, lock=True)
        assert found is not None
        read_payment, read_tx = found
        assert read_payment.id == payment.id
        assert read_tx is not None and (read_tx.id, read_tx.status) == (tx.id, tx.status)
        other.execute(text(nowait.format(table="transactions")), {"id": tx.id})  # free
        with pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(text(nowait.format(table="payments")), {"id": payment.id})


def test_a_reading_block_runs_outside_a_transaction_and_leaves_none_behind(
    container: Container,
) -> None:
    uow = container.uow()
    with uow.reading():
        driver = uow.conn.connection.driver_connection
        uow.conn.exec_driver_sql("SELECT pg_sleep(0.02)")
        # Each statement is its own transaction: now() is this statement's start, not an
        # earlier BEGIN's.
        assert uow.conn.exec_driver_sql("SELECT now() = statement_timestamp()").scalar()
    assert driver is not None and driver.autocommit is False  # back to transactions in the pool
    payment_id = uuid.uuid4()
    with uow:  # a write without commit() is undone
        uow.repo.add_payment(Payment.place(payment_id, uow.clock(), **place_command().__dict__))
    assert services.find_payment(container.uow(), payment_id) is None
