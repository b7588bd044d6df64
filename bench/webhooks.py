"""Webhook phase: POST /webhooks/stripe under load, beside the API phase's POST /payments
(issue 29: 200 within 100 ms at p99, nothing slow in the request).

BENCH_WEBHOOK_PAYMENTS payments are seeded waiting for 3-D Secure; then, for
BENCH_API_SECONDS, BENCH_API_CONNECTIONS clients each send the signed
`payment_intent.succeeded` of the next one (the endpoint's capacity, latency mostly queueing
behind 32 clients), then BENCH_WEBHOOK_RATE (100) events per second arrive whatever the
answers' pace, as Stripe delivers (the p99 the target is about). Each request checks the
signature, records the event id, completes the transaction, settles the payment and writes
its two outbox rows, in one transaction (a real state change, not a duplicate).
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from typing import Any

from sqlalchemy import text

from bench import loadgen
from bench.procs import Service, api_argv, wait_ready
from bench.settings import BenchSettings
from bench.stack import BenchStack
from devstack.procs import free_port
from stripesim.webhooks import envelope, signature_header

log = logging.getLogger("bench")
CAPACITY_SECONDS = 5  # the closed loop's length; the paced load runs BENCH_API_SECONDS
SECRET = "whsec_bench_webhooks"  # noqa: S105 (the bench's own, on loopback)


def _seed(stack: BenchStack, count: int) -> list[tuple[str, str, str]]:
    """`count` PENDING payments whose transaction waits for 3-D Secure; (payment id,
    transaction id, PaymentIntent id) each."""
    rows = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(count)]
    with stack.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payments (id, status, user_name, user_email, user_language,"
                " event_id, amount, currency) VALUES (:p, 'PENDING', 'Fan', :email, 'en',"
                " 'bench-3ds', 10.00, 'USD')"
            ),
            [{"p": p, "email": f"fan-{p[:8]}@bench.example"} for p, _ in rows],
        )
        conn.execute(
            text(
                "INSERT INTO transactions (id, payment_id, status, gateway_reference,"
                " action_secret) VALUES (:t, :p, 'PENDING', :ref, :ref || '_secret')"
            ),
            [{"t": t, "p": p, "ref": f"pi_{t.replace('-', '')[:24]}"} for p, t in rows],
        )
    return [(p, t, f"pi_{t.replace('-', '')[:24]}") for p, t in rows]


CLEAN_UP = (
    "DELETE FROM outbox WHERE message_key IN"
    " (SELECT id::text FROM payments WHERE event_id = 'bench-3ds')",
    "DELETE FROM status_changes WHERE payment_id IN"
    " (SELECT id FROM payments WHERE event_id = 'bench-3ds')",
    "DELETE FROM transactions WHERE payment_id IN"
    " (SELECT id FROM payments WHERE event_id = 'bench-3ds')",
    "DELETE FROM payments WHERE event_id = 'bench-3ds'",
    "DELETE FROM gateway_events",
)


def _clean_up(stack: BenchStack) -> int:
    """Remove what the phase wrote (its payments, their outbox rows), so that no later phase's
    relay publishes them or janitor re-drives them; how many payments it had settled."""
    with stack.engine.begin() as conn:
        settled = conn.execute(
            text(
                "SELECT count(*) FROM payments WHERE event_id = 'bench-3ds' AND status = 'SUCCESS'"
            )
        ).scalar_one()
        for statement in CLEAN_UP:
            conn.execute(text(statement))
    return int(settled)


def _request(port: int, payment: tuple[str, str, str]) -> bytes:
    payment_id, tx_id, reference = payment
    intent = {
        "id": reference,
        "object": "payment_intent",
        "status": "succeeded",
        "metadata": {"payment_id": payment_id, "transaction_id": tx_id},
    }
    data = json.dumps(envelope("payment_intent.succeeded", intent, "bench"))
    head = (
        f"POST /webhooks/stripe HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Stripe-Signature: {signature_header(data, SECRET)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data.encode())}\r\n\r\n"
    )
    return head.encode() + data.encode()


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Seed, then the closed-loop load of signed events."""
    count = int(os.environ.get("BENCH_WEBHOOK_PAYMENTS", "8000"))
    rate = float(os.environ.get("BENCH_WEBHOOK_RATE", "100"))
    payments = _seed(stack, count)
    port = free_port()
    env = stack.env("webhooks", WEB_CONCURRENCY=str(bench.api_workers),
                    GUNICORN_THREADS=str(bench.api_threads),
                    STRIPE_WEBHOOK_SECRET=SECRET)  # fmt: skip
    api = Service("api-webhooks", api_argv(port), env, stack.log_dir).start()
    try:
        wait_ready(api, f"http://127.0.0.1:{port}/healthz")
        requests = [_request(port, p) for p in payments]  # signed now: well within 300 s
        warm = loadgen.closed_loop("127.0.0.1", port, bench.api_connections, 2,
                                   lambda i: (requests[i % 500], "warm"))  # fmt: skip
        offset = 500
        samples = loadgen.closed_loop(
            "127.0.0.1", port, bench.api_connections, CAPACITY_SECONDS,
            lambda i: (requests[(offset + i) % len(requests)], ""),
        )  # fmt: skip
        offset += len(samples)
        paced = loadgen.open_loop(
            "127.0.0.1", port, rate, bench.api_seconds,
            lambda i: (requests[(offset + i) % len(requests)], "paced"),
        )  # fmt: skip
    finally:
        api.stop()
    settled = _clean_up(stack)
    ok = [s for s in samples if s.status == 200]
    latencies = sorted(s.latency for s in ok) or [0.0]
    paced_ok = sorted(s.latency for s in paced if s.status == 200) or [0.0]
    result = {
        "requests": len(samples),
        "ok": len(ok),
        "failed": len(samples) - len(ok),
        "warm_up": len(warm),
        "seconds": CAPACITY_SECONDS,
        "per_s": len(ok) / CAPACITY_SECONDS,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "connections": bench.api_connections,
        "paced_rate": rate,
        "paced_ok": len(paced_ok) if paced_ok != [0.0] else 0,
        "paced_failed": len(paced) - sum(1 for s in paced if s.status == 200),
        "paced_p50_ms": 1000 * paced_ok[len(paced_ok) // 2],
        "paced_p99_ms": 1000 * paced_ok[int(len(paced_ok) * 0.99)],
        "payments_settled": int(settled),
        "seeded": count,
    }
    log.info("webhooks: %s", result)
    return result
