"""`flask outbox status` and `flask outbox replay` against real PostgreSQL and Kafka."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import Engine, text

from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from tests.integration.ops.conftest import drain_outbox, ops_settings, run
from tests.support import env
from tests.support.factories import place
from tests.support.kafka import records


def backlog_of(app: Flask, topic: str) -> int:
    """The UNPUBLISHED column of `flask outbox status` for `topic`."""
    result = run(app, "outbox", "status")
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        if line.split()[:1] == [topic]:
            return int(line.split()[1])
    raise AssertionError(f"{topic} missing from:\n{result.output}")


def test_status_reports_the_backlog_while_no_relay_runs(
    app_ops: Flask, container_ops: Container, settings_ops: Settings
) -> None:
    topic = settings_ops.topics.payment_created
    drain_outbox(container_ops)
    assert backlog_of(app_ops, topic) == 0

    place(container_ops)
    place(container_ops)
    result = run(app_ops, "outbox", "status")
    assert backlog_of(app_ops, topic) == 2
    assert "total: 2 unpublished, oldest " in result.output
    assert not result.output.rstrip().endswith("oldest -")

    assert drain_outbox(container_ops) == 2
    assert backlog_of(app_ops, topic) == 0
    final = run(app_ops, "outbox", "status").output
    assert final.rstrip().endswith("total: 0 unpublished, oldest -")


def header(record: Any, name: str) -> str:
    return dict(record.headers)[name].decode()


def snapshot(engine: Engine, payment_id: uuid.UUID, mailer: FakeMailer) -> dict[str, Any]:
    """Everything a re-applied event could change."""
    params = {"p": payment_id, "k": str(payment_id)}
    with engine.connect() as conn:
        return {
            "payment": conn.execute(
                text("SELECT status, updated_at FROM payments WHERE id = :p"), params
            ).all(),
            "transactions": conn.execute(
                text("SELECT id, status, updated_at FROM transactions WHERE payment_id = :p"),
                params,
            ).all(),
            "outbox": conn.execute(
                text("SELECT count(*) FROM outbox WHERE message_key = :k"), params
            ).scalar(),
            "emails": conn.execute(
                text("SELECT kind, message_id FROM sent_emails WHERE payment_id = :p"), params
            ).all(),
            "mailed": len(mailer.outbox),
        }


def test_replay_republishes_with_original_ce_id_and_applies_nothing_twice(
    app_ops: Flask, container_ops: Container, settings_ops: Settings, mailer: FakeMailer
) -> None:
    import tasks

    topics = settings_ops.topics
    payment = place(container_ops)
    pid = str(payment.id)
    tasks.charge_payment.fn(pid)
    tasks.send_payment_email.fn(pid)
    drain_outbox(container_ops)
    with container_ops.engine.connect() as conn:
        published = dict(
            conn.execute(
                text("SELECT topic, event_id::text FROM outbox WHERE message_key = :k"),
                {"k": pid},
            ).all()
        )
    assert set(published) == {
        topics.payment_created,
        topics.transaction_created,
        topics.transaction_succeeded,
        topics.payment_succeeded,
    }
    before = snapshot(container_ops.engine, payment.id, mailer)
    assert before["mailed"] == 1

    result = run(app_ops, "outbox", "replay", "--payment", pid)
    assert result.exit_code == 0, result.output
    assert "replayed 4 events" in result.output

    actors = {  # the topics the bridge consumes; the transaction events go to the platform
        topics.payment_created: (tasks.charge_payment, "payment_id"),
        topics.payment_succeeded: (tasks.send_payment_email, "payment_id"),
    }
    for topic, ce_id in published.items():
        found = records(settings_ops, topic, pid)
        assert [header(r, "ce_id") for r in found] == [ce_id, ce_id], topic
        assert found[0].value == found[1].value
        if topic in actors:
            actor, field = actors[topic]
            actor.fn(json.loads(found[1].value)[field])  # what the bridge would run for it

    assert snapshot(container_ops.engine, payment.id, mailer) == before


def test_replay_since_a_naive_time_and_one_topic(
    app_ops: Flask, container_ops: Container, settings_ops: Settings
) -> None:
    start = (datetime.now(UTC) - timedelta(seconds=2)).replace(tzinfo=None, microsecond=0)
    payment = place(container_ops)
    drain_outbox(container_ops)
    topic = settings_ops.topics.payment_created

    result = run(app_ops, "outbox", "replay", "--since", start.isoformat(), "--topic", topic)
    assert result.exit_code == 0, result.output
    assert "replayed " in result.output
    assert len(records(settings_ops, topic, str(payment.id))) == 2

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    result = run(app_ops, "outbox", "replay", "--since", later, "--topic", topic)
    assert result.exit_code == 0
    assert "nothing to replay" in result.output


def one_line(result: Any) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_replay_refuses_bad_arguments_in_one_line(app_ops: Flask, settings_ops: Settings) -> None:
    pid = str(uuid.uuid4())
    cases = [
        ((), 2, "exactly one of --payment ID or --since TIME"),
        (("--payment", pid, "--since", "2024-01-01"), 2, "exactly one of"),
        (("--payment", "nope"), 2, "not a payment id"),
        (("--since", "yesterday"), 2, "not an ISO 8601 time"),
        (("--payment", pid, "--topic", "NO_SUCH_TOPIC"), 2, "unknown topic"),
        (("--payment", pid), 1, f"no payment {pid}"),
    ]
    for args, code, message in cases:
        result = run(app_ops, "outbox", "replay", *args)
        assert result.exit_code == code, (args, result.output)
        assert message in one_line(result)


def test_replay_with_kafka_unreachable_fails_in_one_line(
    app_ops: Flask, container_ops: Container
) -> None:
    payment = place(container_ops)
    with container_ops.engine.begin() as conn:
        conn.execute(
            text("UPDATE outbox SET published_at = now() WHERE message_key = :k"),
            {"k": str(payment.id)},
        )
    down = ops_settings(KAFKA_BOOTSTRAP_SERVERS=f"127.0.0.1:{env.free_port()}")
    from web import create_app

    app = create_app({"TESTING": True, "CONTAINER": bootstrap(down, engine=container_ops.engine)})
    result = run(app, "outbox", "replay", "--payment", str(payment.id), "--timeout", "1")
    assert result.exit_code == 1
    assert one_line(result).startswith("Error: Kafka unreachable")


def test_status_with_postgres_unreachable_fails_in_one_line() -> None:
    from web import create_app

    down = ops_settings(DATABASE_URL=f"postgresql://root@127.0.0.1:{env.free_port()}/none")
    app = create_app({"TESTING": True, "SETTINGS": down})
    result = run(app, "outbox", "status")
    assert result.exit_code == 1
    assert one_line(result).startswith("Error: PostgreSQL unreachable")
