"""The relay's janitor on real PostgreSQL: self-healing sweep, outbox retention, and the
periodic queries that must not grow with history (contract sections 7 and 10)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest
from dramatiq import Message
from sqlalchemy import Engine, text

from outbox.janitor import Janitor
from payments import recovery, services
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from payments.db.memory import MemoryUnitOfWork
from payments.db.stats_store import SqlStats
from payments.horizon import FakePositions
from payments.queue.broker import stub_broker
from payments.recovery import Step
from tests.integration.ops.conftest import run
from tests.support.factories import place, place_command


@pytest.fixture
def sweeping(settings_ops: Settings, engine_ops: Engine) -> Container:
    """The ops database with a stub broker (its queues show what the sweep enqueued)."""
    settings = dataclasses.replace(settings_ops, stuck_after_seconds=60)
    return bootstrap(
        settings,
        engine=engine_ops,
        broker=stub_broker(),
        gateway=FakeGateway(),
        mailer=FakeMailer(),
    )


def age(engine: Engine, payment_id: uuid.UUID, seconds: int, published: bool = True) -> None:
    """Make a payment (and its transaction) look unchanged for `seconds`, its events
    published as long ago (or, `published=False`, still in the outbox)."""
    with engine.begin() as conn:
        for table, column in (("payments", "id"), ("transactions", "payment_id")):
            conn.execute(
                text(
                    f"UPDATE {table} SET updated_at = now() - make_interval(secs => :s) "  # noqa: S608
                    f"WHERE {column} = :p"
                ),
                {"s": seconds, "p": payment_id},
            )
        if published:
            publish(conn, payment_id, seconds)


def publish(conn: Any, payment_id: uuid.UUID, seconds_ago: int) -> None:
    """Mark a payment's outbox rows published `seconds_ago`."""
    conn.execute(
        text(
            "UPDATE outbox SET published_at = now() - make_interval(secs => :s) "
            "WHERE message_key = :k"
        ),
        {"s": seconds_ago, "k": str(payment_id)},
    )


def sent(container: Container) -> list[tuple[str, str]]:
    """Every message on the stub broker's queues, as (actor, argument)."""
    broker: Any = container.broker
    messages = [Message.decode(raw) for q in broker.queues.values() for raw in list(q.queue)]
    return [(m.actor_name, m.args[0]) for m in messages]


def test_a_stalled_payment_is_redriven_from_its_step_once_per_idle_period(
    sweeping: Container,
) -> None:
    fresh = place(sweeping)  # its payment.created went nowhere (a Kafka that lost it)
    charged = place(sweeping)  # its charge stopped after opening the transaction (a crash)
    assert services.open_transaction(sweeping.uow(), charged.id) is not None
    settled = place(sweeping)
    services.charge_payment(sweeping.uow(), sweeping.gateway, settled.id)  # its e-mail was lost
    moving = place(sweeping)  # changed just now: not stalled
    for payment in (fresh, charged, settled):
        age(sweeping.engine, payment.id, 600)

    janitor = Janitor(sweeping)
    done = janitor.sweep()

    assert done is not None
    mine = {r.payment_id: r for r in done if r.payment_id in {fresh.id, charged.id, settled.id}}
    assert {pid: r.step for pid, r in mine.items()} == {
        fresh.id: Step.CHARGE,
        charged.id: Step.CHARGE,
        settled.id: Step.NOTIFY,
    }
    assert moving.id not in {r.payment_id for r in done}
    enqueued = sent(sweeping)
    assert ("charge_payment", str(fresh.id)) in enqueued
    assert ("charge_payment", str(charged.id)) in enqueued
    assert ("send_payment_email", str(settled.id)) in enqueued

    again = janitor.sweep()  # re-driven just now: waits another STUCK_AFTER_SECONDS
    assert again is not None
    assert not {r.payment_id for r in again} & {fresh.id, charged.id, settled.id}


def test_a_payment_whose_event_is_still_on_its_way_to_redis_is_left_alone(
    sweeping: Container,
) -> None:
    """Upstream of Redis is not lost: an event still in the outbox, or published after the
    delivery horizon (not yet seen past the bridge), keeps its payment from being re-driven."""
    positions = FakePositions()  # no partitions: the bridge is always caught up
    janitor = Janitor(sweeping, positions=lambda: positions)
    assert janitor.sweep() is None  # the first snapshot: the horizon is not known yet

    in_outbox, past_horizon, lost = (place(sweeping) for _ in range(3))
    age(sweeping.engine, in_outbox.id, 600, published=False)
    age(sweeping.engine, past_horizon.id, 600, published=False)
    age(sweeping.engine, lost.id, 600)
    with sweeping.engine.begin() as conn:
        publish(conn, past_horizon.id, 0)  # just now: after the snapshot the horizon is at

    done = janitor.sweep()

    assert done is not None
    assert janitor.horizon is not None and janitor.horizon.time is not None
    mine = {r.payment_id for r in done} & {in_outbox.id, past_horizon.id, lost.id}
    assert mine == {lost.id}


def test_one_sweep_at_a_time(sweeping: Container, engine_ops: Engine) -> None:
    with engine_ops.begin() as conn:  # another relay's sweep holds the lock
        conn.execute(text("SELECT pg_advisory_xact_lock(727002)"))
        assert Janitor(sweeping).sweep() is None
    assert Janitor(sweeping).sweep() is not None


def test_a_sweep_whose_enqueue_fails_marks_nothing_and_is_tried_again() -> None:
    uow = MemoryUnitOfWork()
    payment = services.place_payment(uow, place_command())

    def refuse(redrive: recovery.Redrive) -> None:
        raise ConnectionError("Redis down")

    with pytest.raises(ConnectionError):
        recovery.sweep(uow, 0, refuse)
    assert uow.store.redriven == set()
    calls: list[recovery.Redrive] = []
    assert recovery.sweep(uow, 0, calls.append) == calls
    assert [c.payment_id for c in calls] == [payment.id] and uow.store.redriven == {payment.id}


def _outbox_row(engine: Engine, topic: str, published_ago_s: int | None) -> int:
    with engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO outbox (event_id, topic, event_type, message_key, payload, "
                "published_at) VALUES (gen_random_uuid(), :t, 'test.event', 'k', '{}', "
                "CASE WHEN CAST(:ago AS float) IS NULL THEN NULL "
                "ELSE now() - make_interval(secs => CAST(:ago AS float)) END) RETURNING id"
            ),
            {"t": topic, "ago": published_ago_s},
        ).scalar_one()


def _ids(engine: Engine, topic: str) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id FROM outbox WHERE topic = :t"), {"t": topic})
        return {r[0] for r in rows}


def test_retention_deletes_old_published_rows_only(sweeping: Container, engine_ops: Engine) -> None:
    with engine_ops.begin() as conn:  # earlier tests' rows: published long ago, purgeable
        conn.execute(
            text(
                "UPDATE outbox SET published_at = now() - interval '30 days' "
                "WHERE published_at IS NOT NULL"
            )
        )
    topic = f"retention-{uuid.uuid4().hex[:8]}"
    old_unpublished = _outbox_row(engine_ops, topic, None)
    old = [_outbox_row(engine_ops, topic, 8 * 24 * 3600) for _ in range(3)]
    recent = _outbox_row(engine_ops, topic, 3600)
    assert set(old) <= _ids(engine_ops, topic)

    purged = Janitor(sweeping).purge()  # retention: 168 h

    assert purged >= 3
    assert _ids(engine_ops, topic) == {old_unpublished, recent}
    with engine_ops.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE id = :i"), {"i": old_unpublished})


def test_flask_outbox_purge_with_a_shorter_retention(app_ops, engine_ops: Engine) -> None:  # type: ignore[no-untyped-def]
    topic = f"retention-{uuid.uuid4().hex[:8]}"
    kept = _outbox_row(engine_ops, topic, 60)
    gone = _outbox_row(engine_ops, topic, 7200)
    waiting = _outbox_row(engine_ops, topic, None)

    result = run(app_ops, "outbox", "purge", "--older-than", "1h")

    assert result.exit_code == 0, result.output
    assert "purged" in result.output and "older than 1h" in result.output
    assert _ids(engine_ops, topic) == {kept, waiting}
    assert gone not in _ids(engine_ops, topic)
    bad = run(app_ops, "outbox", "purge", "--older-than", "soon")
    assert bad.exit_code == 2 and "not a duration" in bad.output
    with engine_ops.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE id = :i"), {"i": waiting})


def test_finished_payments_are_counted_without_reading_the_payments_table(
    sweeping: Container, engine_ops: Engine
) -> None:
    with engine_ops.connect() as conn:
        before = SqlStats(conn).payment_counts()
    payments = [place(sweeping, token) for token in ("TOKEN123", "ODD12", "TOKEN456")]
    for payment in payments:
        services.charge_payment(sweeping.uow(), sweeping.gateway, payment.id)
    with engine_ops.connect() as conn:
        after = SqlStats(conn).payment_counts()
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                text("EXPLAIN SELECT count(*) FROM payments WHERE status = 'PENDING'")
            )
        )
    assert after.get("SUCCESS", 0) - before.get("SUCCESS", 0) == 2
    assert after.get("FAILED", 0) - before.get("FAILED", 0) == 1
    assert after["PENDING"] == before["PENDING"]
    assert "payments_pending_idx" in plan


def test_a_payment_idle_behind_a_backlog_is_left_to_its_queued_message(
    settings_ops: Settings, engine_ops: Engine
) -> None:
    """On real Redis: a payment whose charge is still queued (or waiting for a retry) is not
    re-driven, however long it has been idle; one whose message is gone is."""
    import redis

    from payments.queue import names
    from payments.queue.broker import redis_broker

    namespace = f"test-backlog-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(settings_ops.redis_url)
    broker = redis_broker(client, namespace)
    for queue in names.QUEUES:
        broker.declare_queue(queue)
    container = bootstrap(
        dataclasses.replace(settings_ops, stuck_after_seconds=60),
        engine=engine_ops,
        broker=broker,
        gateway=FakeGateway(),
        mailer=FakeMailer(),
    )
    queued, delayed, lost = (place(container) for _ in range(3))
    names.send(broker, names.CHARGE_PAYMENT, str(queued.id))  # behind a backlog
    broker.enqueue(names.CHARGE_PAYMENT.message(str(delayed.id)), delay=600_000)  # a retry
    for payment in (queued, delayed, lost):
        age(engine_ops, payment.id, 600)
    janitor = Janitor(container)
    try:
        assert {(names.CHARGE_PAYMENT.name, str(queued.id))} <= janitor.queued_steps()
        done = janitor.sweep()
        assert done is not None
        mine = {r.payment_id for r in done} & {queued.id, delayed.id, lost.id}
        assert mine == {lost.id}
        assert (names.CHARGE_PAYMENT.name, str(lost.id)) in janitor.queued_steps()
    finally:
        for key in client.scan_iter(match=f"{namespace}:*"):
            client.delete(key)
        broker.close()
