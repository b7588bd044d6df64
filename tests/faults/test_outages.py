"""Kafka paused, Redis paused, PostgreSQL refusing connections: 10 s each, mid-run.

While Kafka or Redis are frozen the API keeps accepting payments (they wait in the outbox
or in Kafka); while PostgreSQL is down the API answers 503, and every daemon backs off and
catches up once the service returns.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from tests.support.faults import Stage
from tests.support.load import Load
from tests.support.private import PrivateServices
from tests.support.tally import Row, failures

PAYMENTS = 100
POST_SECONDS = 16.0
FAULT_AT_S = 4.0
FAULT_S = 10.0


def _run(stage: Stage, tag: str, fault: Callable[[], dict[str, object]]) -> tuple[Load, dict]:
    """Post the payments; `fault` runs FAULT_AT_S after the first one and returns notes."""
    stage.start_all()
    load = stage.load(PAYMENTS, POST_SECONDS, tag)
    poster = load.start()
    time.sleep(FAULT_AT_S)
    began = time.time()
    notes = fault()
    ended = time.time()
    poster.join()
    during = load.statuses_between(began, ended)
    return load, {**notes, "http_during_fault": dict(sorted(during.items()))}


def _backoffs(stage: Stage) -> str:
    """How often each daemon logged a failed attempt (each followed by a backoff)."""
    relay = stage.log_count("relay", "relay attempt")
    bridge = stage.log_count("bridge", "bridge attempt")
    return f"relay {relay}, bridge {bridge}"


def test_kafka_paused_for_10s(
    stage_for: Callable[..., Stage], services: PrivateServices, report: Callable[[Row], None]
) -> None:
    stage = stage_for("kafka paused 10s")
    started = time.monotonic()

    def pause_kafka() -> dict[str, object]:
        services.kafka.pause()
        try:
            time.sleep(FAULT_S)
            return {"outbox_backlog_at_resume": stage.unpublished()}
        finally:
            services.kafka.resume()

    load, notes = _run(stage, "kafka", pause_kafka)
    settled = stage.wait_settled(load.accepted)
    row = stage.conclude(load, started, **notes, backoffs=_backoffs(stage))
    report(row)
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    assert notes["http_during_fault"].get(201, 0) > 0, "the API must accept while Kafka is down"
    assert notes["outbox_backlog_at_resume"] > 0, "payments must wait in the outbox"


def test_redis_paused_for_10s(
    stage_for: Callable[..., Stage], services: PrivateServices, report: Callable[[Row], None]
) -> None:
    stage = stage_for("redis paused 10s")
    started = time.monotonic()

    def pause_redis() -> dict[str, object]:
        services.redis.pause()
        try:
            time.sleep(FAULT_S)
        finally:
            services.redis.resume()
        return {}

    load, notes = _run(stage, "redis", pause_redis)
    settled = stage.wait_settled(load.accepted)
    row = stage.conclude(load, started, **notes, backoffs=_backoffs(stage))
    report(row)
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    assert notes["http_during_fault"].get(201, 0) > 0, "the API must accept while Redis is down"


def test_postgres_refusing_connections_for_10s(
    stage_for: Callable[..., Stage], services: PrivateServices, report: Callable[[Row], None]
) -> None:
    stage = stage_for("postgres down 10s")
    started = time.monotonic()

    def stop_postgres() -> dict[str, object]:
        services.postgres.stop(sig=signal.SIGQUIT)  # immediate shutdown, like a crash
        try:
            time.sleep(FAULT_S)
        finally:
            services.postgres.start()
        return {}

    load, notes = _run(stage, "postgres", stop_postgres)
    settled = stage.wait_settled(load.accepted)
    row = stage.conclude(load, started, **notes, backoffs=_backoffs(stage))
    report(row)
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    assert notes["http_during_fault"].get(503, 0) > 0, "the API must answer 503 meanwhile"
    assert set(load.status_counts()) <= {201, 503}, f"unexpected answers: {notes}"
