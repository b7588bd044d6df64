"""Cancel phase: an event with BENCH_CANCEL_PAYMENTS (100,000) paid payments is cancelled.

Measures how long `POST /events/<id>/cancellation` takes to answer on the real API (the
request never does the refunding itself), then how many refunds per second the
cancellation's batches create (each batch one transaction: the refund rows, the payments'
reservations, the refund.pending outbox rows and the cursor), run as the worker's actor runs
them. What follows for each refund (gateway, e-mail) is the payments' own pipeline, which the
e2e phase measures.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

import requests
from sqlalchemy import text

from bench.procs import Service, api_argv, wait_ready
from bench.settings import BenchSettings
from bench.stack import BenchStack
from devstack.procs import free_port
from payments import refunds
from payments.bootstrap import bootstrap

log = logging.getLogger("bench")


def _seed(stack: BenchStack, event_id: str, count: int) -> float:
    started = time.monotonic()
    with stack.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payments (id, status, user_name, user_email, user_language, "
                "event_id, event_name, amount, currency, emailed_at) "
                "SELECT gen_random_uuid(), 'SUCCESS', 'Fan ' || n, "
                "'fan-' || n || '@bench.example', 'en', :event, 'Sold out', "
                "10.00 + (n % 90), 'USD', now() "
                "FROM generate_series(1, :count) AS n"
            ),
            {"event": event_id, "count": count},
        )
        conn.execute(text("ANALYZE payments"))
    return time.monotonic() - started


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Seed, cancel through the API, then time the batches."""
    count = int(os.environ.get("BENCH_CANCEL_PAYMENTS", "100000"))
    event_id = f"bench-cancel-{uuid.uuid4().hex[:8]}"
    seeded_s = _seed(stack, event_id, count)
    log.info("cancel: %d paid payments seeded in %.1fs", count, seeded_s)
    port = free_port()
    api = Service("api-cancel", api_argv(port), stack.env("cancel"), stack.log_dir).start()
    try:
        wait_ready(api, f"http://127.0.0.1:{port}/healthz")
        t0 = time.monotonic()
        answer = requests.post(
            f"http://127.0.0.1:{port}/events/{event_id}/cancellation", json={}, timeout=30
        )
        post_ms = (time.monotonic() - t0) * 1000
    finally:
        api.stop()
    assert answer.status_code == 202, answer.text
    container = bootstrap(stack.settings("cancel"), engine=stack.engine)
    cpu0, t0 = time.process_time(), time.monotonic()
    created, batches = 0, 0
    while True:
        batch = refunds.refund_cancellation_batch(container.uow(), event_id)
        created += batch.refunded
        batches += 1
        if batch.finished:
            break
    seconds = time.monotonic() - t0
    client_cpu = time.process_time() - cpu0
    with stack.engine.connect() as conn:
        made = conn.execute(
            text(
                "SELECT count(*) FROM refunds r JOIN payments p ON p.id = r.payment_id "
                "WHERE p.event_id = :e AND r.reason = 'event_cancelled'"
            ),
            {"e": event_id},
        ).scalar_one()
    result = {
        "payments": count,
        "post_ms": post_ms,
        "refunds_created": created,
        "refunds_in_database": made,
        "batches": batches,
        "seconds": seconds,
        "refunds_per_s": created / seconds if seconds else 0.0,
        "client_cpu_ms_per_refund": 1000 * client_cpu / created if created else 0.0,
        "seed_seconds": seeded_s,
    }
    log.info(
        "cancel: POST answered in %.0f ms; %d refunds in %.1fs (%.0f/s)",
        post_ms,
        created,
        seconds,
        result["refunds_per_s"],
    )
    return result
