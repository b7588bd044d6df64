"""The raw PostgreSQL rate for the API's rows: payment + payment.created outbox row per commit.

Plain psycopg 3, prepared statements, pipeline mode (BEGIN, two INSERTs and COMMIT in one
round trip), `clients` connections spread over one process per core: what PostgreSQL itself
can commit on this machine, with no web stack in front.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing.queues import Queue

import psycopg
from psycopg.types.json import Jsonb

from bench.payloads import created_event, payment_body
from bench.stack import libpq

INSERT_PAYMENT = (
    "INSERT INTO payments (id, status, user_name, user_email, user_language, event_id,"
    " event_name, event_description, event_image_url, amount, currency, payment_token,"
    " failure_reason, created_at, updated_at)"
    " VALUES (%s, 'PENDING', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, %s, %s)"
)
INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, topic, event_type, message_key, payload, occurred_at)"
    " VALUES (%s, %s, 'payment.created', %s, %s, %s)"
)


def _commit_loop(dsn: str, topic: str, deadline: float, counts: list[int], slot: int) -> None:
    body = payment_body()
    with psycopg.connect(dsn) as conn:
        while time.time() < deadline:
            pid, now = uuid.uuid4(), datetime.now(UTC)
            with conn.pipeline(), conn.transaction():
                conn.execute(
                    INSERT_PAYMENT,
                    (
                        pid, body["user_name"], body["user_email"], "en", body["event_id"],
                        body["event_name"], body["event_description"], body["event_image_url"],
                        Decimal(body["event_amount"]), "USD", body["payment_token"], now, now,
                    ),
                    prepare=True,
                )  # fmt: skip
                conn.execute(
                    INSERT_OUTBOX,
                    (uuid.uuid4(), topic, str(pid), Jsonb(created_event(str(pid))), now),
                    prepare=True,
                )
            counts[slot] += 1


def _process(
    dsn: str, topic: str, threads: int, start: float, seconds: float, out: Queue[int]
) -> None:
    counts = [0] * threads
    while time.time() < start:
        time.sleep(0.001)
    workers = [
        threading.Thread(target=_commit_loop, args=(dsn, topic, start + seconds, counts, i))
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(sum(counts))


def commit_rate(database_url: str, topic: str, clients: int, seconds: float) -> dict[str, float]:
    """Commits per second of payment + outbox rows over `clients` connections."""
    processes = max(1, min(os.cpu_count() or 1, clients))
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 2.0  # every process connected and waiting
    spread = [clients // processes + (i < clients % processes) for i in range(processes)]
    procs = [
        ctx.Process(target=_process, args=(libpq(database_url), topic, n, start, seconds, out))
        for n in spread
    ]
    for p in procs:
        p.start()
    total = sum(out.get(timeout=seconds + 60) for _ in procs)
    for p in procs:
        p.join()
    return {"commits": total, "seconds": seconds, "per_s": total / seconds, "clients": clients}
