"""Relay phase: `flask outbox relay` draining a backlog, beside a raw producer (same messages).

The relay is started first and idles on LISTEN; the backlog is then written in one COPY and
one commit (one NOTIFY), and the clock runs from that commit until no unpublished row is left.
Each side runs twice (raw, relay, raw, relay) and the best of each is kept, which evens out
the noise of a shared machine.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import text

from bench import profiler, raw_kafka
from bench.payloads import created_event
from bench.procs import Service, relay_argv
from bench.settings import BenchSettings
from bench.stack import BenchStack, libpq
from payments.messages import OutboxMessage

log = logging.getLogger("bench")
ROUNDS = 2
UNPUBLISHED = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")


def backlog(topic: str, rows: int) -> list[OutboxMessage]:
    """`rows` payment.created messages, one per payment (what piles up while Kafka is down)."""
    now = datetime.now(UTC)
    messages = []
    for _ in range(rows):
        pid = str(uuid.uuid4())
        messages.append(
            OutboxMessage(uuid.uuid4(), topic, "payment.created", pid, created_event(pid), now)
        )
    return messages


def seed(database_url: str, messages: list[OutboxMessage]) -> float:
    """COPY the messages into the outbox in one transaction; the wall-clock time of the commit."""
    columns = "event_id, topic, event_type, message_key, payload, occurred_at"
    with psycopg.connect(libpq(database_url)) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY outbox ({columns}) FROM STDIN") as copy:
            for m in messages:
                copy.write_row(
                    (m.message_id, m.topic, m.message_type, m.key, json.dumps(m.payload),
                     m.occurred_at)
                )  # fmt: skip
        conn.commit()
        return time.perf_counter()


def drain_time(stack: BenchStack, database_url: str, messages: list[OutboxMessage]) -> float:
    """Seconds from the backlog's commit until the relay published its last row."""
    committed = seed(database_url, messages)
    deadline = committed + 300
    with stack.engine.connect() as conn:
        while time.perf_counter() < deadline:
            if conn.execute(UNPUBLISHED).scalar() == 0:
                return time.perf_counter() - committed
            conn.rollback()
            time.sleep(0.01)
    raise RuntimeError("the relay did not drain the backlog within 300 s")


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Relay events/s vs raw producer messages/s, best of ROUNDS each."""
    stack.create_topics("relay")
    settings = stack.settings("relay")
    bench_url = settings.database_url
    relays = [
        Service(f"relay-{i}", relay_argv(bench), stack.env("relay"), stack.log_dir).start()
        for i in range(bench.relays)
    ]
    relay = relays[0]
    raw_runs, relay_runs, hot = [], [], None
    try:
        time.sleep(3)  # imports done, LISTEN in place
        # Warm-up, not timed: the relay's producer connects and learns the topic's partitions.
        drain_time(stack, bench_url, backlog(settings.topics.payment_created, 500))
        for round_no in range(ROUNDS):
            messages = backlog(settings.topics.payment_created, bench.relay_rows)
            raw_runs.append(raw_kafka.produce_rate(stack.kafka_servers(), messages))
            log.info("raw producer: %.0f msg/s", raw_runs[-1]["per_s"])
            messages = backlog(settings.topics.payment_created, bench.relay_rows)
            profile = (
                profiler.Profile("relay", relay.pid, 8, stack.log_dir)
                if bench.profile and profiler.available() and round_no == ROUNDS - 1
                else None
            )
            seconds = drain_time(stack, bench_url, messages)
            if profile:
                hot = profile.finish()
            relay_runs.append({"events": len(messages), "seconds": seconds,
                               "per_s": len(messages) / seconds})  # fmt: skip
            log.info("relay: %.0f events/s", relay_runs[-1]["per_s"])
            for r in relays:
                if not r.alive():
                    raise RuntimeError(f"relay exited:\n{r.tail()}")
    finally:
        for r in relays:
            r.stop()
    best_raw = max(raw_runs, key=lambda r: r["per_s"])
    best_relay = max(relay_runs, key=lambda r: r["per_s"])
    result: dict[str, Any] = {
        "relay": best_relay,
        "raw_producer": best_raw,
        "ratio": best_relay["per_s"] / best_raw["per_s"],
        "runs": {"relay": relay_runs, "raw_producer": raw_runs},
        "raw_producer_config": raw_kafka.PRODUCER_CONFIG,
        "relays": bench.relays,
        "memory": [m.__dict__ for r in relays for m in r.memory],
    }
    if hot:
        result["profile"] = hot
    return result
