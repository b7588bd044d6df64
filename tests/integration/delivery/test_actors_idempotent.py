"""The actors on real PostgreSQL: duplicate, concurrent and out-of-order delivery change nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text

import tasks
from payments import services
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container
from payments.db.repository import SqlRepository
from payments.domain.gateway_rule import Decision
from payments.domain.model import Status
from tests.support.factories import place


def footprint(engine: Engine, payment_id: uuid.UUID) -> dict[str, Any]:
    """Everything the pipeline writes for a payment, counted."""
    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql), {"p": payment_id}).scalar_one()  # noqa: E731
        return {
            "status": one("SELECT status FROM payments WHERE id = :p"),
            "transactions": one("SELECT count(*) FROM transactions WHERE payment_id = :p"),
            "changes": one("SELECT count(*) FROM status_changes WHERE payment_id = :p"),
            "events": one("SELECT count(*) FROM outbox WHERE message_key = CAST(:p AS text)"),
            "emails": one("SELECT count(*) FROM sent_emails WHERE payment_id = :p"),
            "updated_at": one("SELECT updated_at FROM payments WHERE id = :p"),
        }


def transaction_of(engine: Engine, payment_id: uuid.UUID) -> str:
    with engine.connect() as conn:
        query = text("SELECT id FROM transactions WHERE payment_id = :p")
        return str(conn.execute(query, {"p": payment_id}).scalar_one())


def run_pipeline(payment_id: uuid.UUID, engine: Engine) -> None:
    """Each actor once, in order, as the bridge would deliver them."""
    tasks.charge_payment(str(payment_id))
    tasks.send_payment_email(str(payment_id))


FINISHED = {"transactions": 1, "changes": 2, "events": 4, "emails": 1}


def finished(fp: dict[str, Any]) -> bool:
    return fp["status"] != "PENDING" and all(fp[k] == v for k, v in FINISHED.items())


@pytest.mark.parametrize("token", ["TOKEN123", "ODD12"])
def test_every_message_delivered_twice_changes_nothing(
    delivery_app: Flask,
    delivery_container: Container,
    delivery_engine: Engine,
    mailer: FakeMailer,
    token: str,
) -> None:
    pid = place(delivery_container, token).id
    tasks.charge_payment(str(pid))
    tasks.charge_payment(str(pid))
    tasks.send_payment_email(str(pid))
    tasks.send_payment_email(str(pid))

    fp = footprint(delivery_engine, pid)
    assert finished(fp), fp
    assert fp["status"] == ("SUCCESS" if token == "TOKEN123" else "FAILED")
    assert [e.to for e in mailer.outbox].count(mailer.outbox[0].to) == 1


def test_messages_arriving_late_or_early_change_nothing(
    delivery_app: Flask, delivery_container: Container, delivery_engine: Engine
) -> None:
    pid = place(delivery_container).id
    with pytest.raises(services.NotReady):  # e-mail before the payment finished: retried later
        tasks.send_payment_email(str(pid))
    tasks.charge_payment(str(pid))
    tasks.send_payment_email(str(pid))
    before = footprint(delivery_engine, pid)

    # Every message again, newest first, as a replay after the end would deliver them.
    tasks.send_payment_email(str(pid))
    tasks.charge_payment(str(pid))

    assert finished(before), before
    assert footprint(delivery_engine, pid) == before


def test_concurrent_duplicates_do_each_step_once(
    delivery_app: Flask, delivery_container: Container, delivery_engine: Engine, mailer: FakeMailer
) -> None:
    pid = place(delivery_container).id
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            run_pipeline(pid, delivery_engine)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert finished(footprint(delivery_engine, pid))
    assert len(mailer.outbox) == 1


def _hidden(method: Callable[..., Any]) -> Callable[..., Any]:
    """A repository read that finds nothing (it ran before another delivery's commit)."""

    def read(self: SqlRepository, *args: Any, **kwargs: Any) -> Any:
        method(self, *args, **kwargs)
        return None

    return read


def _stale(method: Callable[..., Any], **fields: Any) -> Callable[..., Any]:
    """A repository read that returns an older view of the row (a race lost past the locks)."""

    def read(self: SqlRepository, *args: Any, **kwargs: Any) -> Any:
        found = method(self, *args, **kwargs)
        for name, value in fields.items():
            setattr(found, name, value)
        return found

    return read


def test_a_race_lost_on_a_unique_key_counts_as_done(
    delivery_app: Flask,
    delivery_container: Container,
    delivery_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid = place(delivery_container).id
    run_pipeline(pid, delivery_engine)
    before = footprint(delivery_engine, pid)
    tx = transaction_of(delivery_engine, pid)
    uow = delivery_container.uow

    # As if the check had not seen the transaction another delivery created meanwhile.
    repo = SqlRepository
    monkeypatch.setattr(repo, "transaction_of", _hidden(repo.transaction_of))
    monkeypatch.setattr(repo, "get_payment", _stale(repo.get_payment, status=Status.PENDING))
    assert services.open_transaction(uow(), pid) is None  # unique payment_id said no
    monkeypatch.undo()

    # As if the transaction were still PENDING: its terminal change exists already.
    stale_tx = _stale(repo.get_transaction, status=Status.PENDING, reason=None)
    monkeypatch.setattr(repo, "get_transaction", stale_tx)
    assert services.record_decision(uow(), uuid.UUID(tx), Decision(Status.SUCCESS)) is None
    monkeypatch.undo()

    # As if the payment were still PENDING: its terminal change exists already.
    stale_payment = _stale(repo.get_payment, status=Status.PENDING, failure_reason=None)
    monkeypatch.setattr(repo, "get_payment", stale_payment)
    assert services.settle(uow(), uuid.UUID(tx)) is None
    monkeypatch.undo()

    assert footprint(delivery_engine, pid) == before
