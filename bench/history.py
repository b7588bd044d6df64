"""History phase: the same measures on an empty database and with 500,000 past payments.

Contract section 10: claiming, /metrics, `flask outbox status` and `GET /payments/<id>` cost
the same with half a million past payments as with none, and published outbox rows past
OUTBOX_RETENTION_HOURS go without an operator. The phase has a database of its own. It is
measured empty, then filled with `BENCH_HISTORY_PAYMENTS` finished payments (each with its
transaction, its two status changes and its e-mail) and the outbox a week of them leaves
(published rows, a part of them older than the retention), then measured again:

- the relay's claim rate: a backlog of `BENCH_HISTORY_BACKLOG` rows drained by one relay;
- `GET /metrics`, `GET /payments/<id>` (random stored ids) and `GET /payments` pages (the
  newest, an event's, a status's, a fan's), sequential, p50 and p95 of the best of three
  rounds;
- `flask outbox status`, the whole command (best of three);
- settled payments per second, POST to e-mail, at `BENCH_HISTORY_RATE` for 12 s;
- retention: the rows past it, before, and whether the relay's janitor had deleted them all
  by the end of the phase.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import random
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import e2e, relay
from bench.procs import Service, api_argv, relay_argv, wait_ready
from bench.settings import BenchSettings
from bench.stack import BenchStack, libpq
from bench.stats import summary_ms
from devstack import procfile
from devstack.procs import free_port
from payments.db.engine import make_engine
from payments.db.migrations import migrate

log = logging.getLogger("bench")
REQUESTS = 200
STEP_SECONDS = 10
RETENTION_HOURS = 168
# A week of outbox at the history's pace is kept, a part of it older than the retention.
KEPT_OUTBOX_SHARE, EXPIRED_OUTBOX_SHARE = 0.2, 0.2
PAST_RETENTION = text(
    "SELECT count(*) FROM outbox WHERE published_at < now() - make_interval(hours => :h)"
)


# GET /payments pages measured: the newest, one status's, and one event's and one fan's. The
# event and the fan are the same in both measures (PAGE_SEED: 40 payments of one event and
# one fan, written before the empty measure): a full page of 20 read off the same 40 rows,
# alone or among half a million.
PAGE_EVENT, PAGE_FAN = "evt-bench-page", "fan-bench-page@history.example"
LIST_QUERIES: dict[str, Callable[[random.Random], str]] = {
    "list_newest_ms": lambda rng: "limit=20",
    "list_event_ms": lambda rng: f"event_id={PAGE_EVENT}&limit=20",
    "list_status_ms": lambda rng: "status=FAILED&limit=20",
    "list_fan_ms": lambda rng: f"user_email={PAGE_FAN.replace('@', '%40')}&limit=20",
}
PAGE_SEED = text("""
INSERT INTO payments (id, status, user_name, user_email, user_language, event_id, amount,
    currency, created_at, updated_at, emailed_at)
SELECT md5('page' || g)::uuid, 'SUCCESS', 'Fan', :fan, 'en', :event, 125.50,
    'USD', now() - make_interval(secs => g * 60), now(), now()
FROM generate_series(1, 40) g
""")


def history_id(n: int) -> uuid.UUID:
    """The id of past payment `n` (as the seeding SQL computes it: md5('h' || n))."""
    return uuid.UUID(hashlib.md5(f"h{n}".encode()).hexdigest())  # noqa: S324 - an id, not a hash


SEED = [
    # Finished payments, one every 5 s back in time; one in five rejected.
    """
    INSERT INTO payments (id, status, user_name, user_email, user_language, event_id,
        event_name, amount, currency, failure_reason, created_at, updated_at, emailed_at)
    SELECT md5('h' || g)::uuid, CASE WHEN g %% 5 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
        'Fan ' || g, 'fan' || g || '@history.example', 'en', 'evt-' || (g %% 2000),
        'Past event ' || (g %% 2000), 125.50, 'USD',
        CASE WHEN g %% 5 = 0 THEN 'rejected_by_gateway' END,
        now() - make_interval(secs => g * 5), now() - make_interval(secs => g * 5 - 1),
        now() - make_interval(secs => g * 5 - 1)
    FROM generate_series(%(first)s::int, %(last)s::int) g
    """,
    """
    INSERT INTO transactions (id, payment_id, status, reason, created_at, updated_at)
    SELECT md5('t' || g)::uuid, md5('h' || g)::uuid,
        CASE WHEN g %% 5 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
        CASE WHEN g %% 5 = 0 THEN 'rejected_by_gateway' END,
        now() - make_interval(secs => g * 5), now() - make_interval(secs => g * 5 - 1)
    FROM generate_series(%(first)s::int, %(last)s::int) g
    """,
    """
    INSERT INTO status_changes (payment_id, entity, to_status, changed_at)
    SELECT md5('h' || g)::uuid, e, CASE WHEN g %% 5 = 0 THEN 'FAILED' ELSE 'SUCCESS' END,
        now() - make_interval(secs => g * 5 - 1)
    FROM generate_series(%(first)s::int, %(last)s::int) g,
        unnest(ARRAY['payment', 'transaction']) e
    """,
    """
    INSERT INTO sent_emails (payment_id, kind, message_id, sent_at)
    SELECT md5('h' || g)::uuid, CASE WHEN g %% 5 = 0 THEN 'rejected' ELSE 'approved' END,
        '<h' || g || '@history.example>', now() - make_interval(secs => g * 5 - 1)
    FROM generate_series(%(first)s::int, %(last)s::int) g
    """,
    """
    INSERT INTO payment_status_counts AS c (status, shard, n)
    VALUES ('SUCCESS', 0, %(succeeded)s), ('FAILED', 0, %(failed)s)
    ON CONFLICT (status, shard) DO UPDATE SET n = c.n + EXCLUDED.n
    """,
    # The outbox the past payments left: ids below every row the phase wrote itself, in time
    # order (as a sequence gives them), the oldest, past the retention, first.
    """
    INSERT INTO outbox (id, event_id, topic, event_type, message_key, payload,
        occurred_at, published_at, attempts)
    SELECT g - %(expired)s::int - %(kept)s::int - 1,
        md5('o' || g)::uuid, 'PAYMENT_SUCCEEDED_TOPIC', 'payment.succeeded',
        md5('h' || g)::text,
        jsonb_build_object('payment_id', md5('h' || g)::uuid, 'user_name', 'Fan ' || g,
            'user_email', 'fan' || g || '@history.example', 'user_language', 'en',
            'user_locale', 'en', 'event_id', 'evt-' || (g %% 2000),
            'event_name', 'Past event ' || (g %% 2000), 'amount', '125.50', 'currency', 'USD'),
        now() - make_interval(hours => %(past_h)s::int, secs => -g),
        now() - make_interval(hours => %(past_h)s::int, secs => -g), 1
    FROM generate_series(1, %(expired)s::int) g
    """,
    """
    INSERT INTO outbox (id, event_id, topic, event_type, message_key, payload,
        occurred_at, published_at, attempts)
    SELECT g - %(kept)s::int - 1, md5('k' || g)::uuid,
        'PAYMENT_SUCCEEDED_TOPIC', 'payment.succeeded',
        md5('h' || g)::text,
        jsonb_build_object('payment_id', md5('h' || g)::uuid, 'user_name', 'Fan ' || g,
            'user_email', 'fan' || g || '@history.example', 'user_language', 'en',
            'user_locale', 'en', 'event_id', 'evt-' || (g %% 2000),
            'event_name', 'Past event ' || (g %% 2000), 'amount', '125.50', 'currency', 'USD'),
        now() - make_interval(hours => 48, secs => -g),
        now() - make_interval(hours => 48, secs => -g), 1
    FROM generate_series(1, %(kept)s::int) g
    """,
]


def seed(database_url: str, first: int, last: int, outbox: bool = True) -> dict[str, Any]:
    """Fill the database with past payments `first`..`last` (and, with `outbox`, the outbox
    they leave); what and how long."""
    payments = last - first + 1
    failed = last // 5 - (first - 1) // 5  # every fifth is rejected
    values = {
        "first": first,
        "last": last,
        "succeeded": payments - failed,
        "failed": failed,
        "expired": int(payments * EXPIRED_OUTBOX_SHARE) if outbox else 0,
        "kept": int(payments * KEPT_OUTBOX_SHARE) if outbox else 0,
        "past_h": RETENTION_HOURS + 48,
    }
    started = time.perf_counter()
    with psycopg.connect(libpq(database_url)) as conn:
        for statement in SEED:
            conn.execute(statement, values)
        conn.commit()
    with psycopg.connect(libpq(database_url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # Write the seed's dirty pages now: a checkpoint flushing a gigabyte during the
        # measures would bill the seeding to them (on 2 cores, GET /payments/<id> doubled).
        conn.execute("CHECKPOINT")
    seconds = time.perf_counter() - started
    log.info("history: %d past payments seeded in %.0f s", payments, seconds)
    return {
        "payments": payments,
        "outbox_past_retention": values["expired"],
        "outbox_kept": values["kept"],
        "seconds": round(seconds, 1),
    }


ROUNDS = 3


def _timed(call: Callable[[], Any], count: int) -> dict[str, float]:
    """The latencies of `count` sequential calls, in `ROUNDS` rounds a second apart: the
    round with the lowest median (the machine is shared, and a host that slows down for
    tens of seconds once doubled one side's figures, on either side, as the relay's best of
    two does for its rate)."""
    rounds = []
    for index in range(ROUNDS):
        if index:
            time.sleep(1)
        seconds = []
        for _ in range(max(1, count // ROUNDS)):
            started = time.perf_counter()
            call()
            seconds.append(time.perf_counter() - started)
        rounds.append(summary_ms(seconds))
    return min(rounds, key=lambda r: r["p50_ms"])


def _http(session: requests.Session, url: str | Callable[[], str]) -> Callable[[], None]:
    def get() -> None:
        answer = session.get(url() if callable(url) else url, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.status_code} from {answer.url}")

    return get


def _outbox_status(env: dict[str, str]) -> float:
    """Best of three wall times of `flask outbox status`, in ms."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            ["flask", "outbox", "status"],
            cwd=procfile.ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def measure(stack: BenchStack, bench: BenchSettings, label: str, ids: list[uuid.UUID]) -> dict:
    """Every measure on the database as it is now."""
    phase = f"history-{label}"
    stack.create_topics(phase)
    env = stack.env(phase, OUTBOX_RETENTION_HOURS=str(RETENTION_HOURS))
    settings = stack.settings(phase)
    log_dir = stack.log_dir / phase
    result: dict[str, Any] = {}

    relayd = Service(f"{phase}-relay", relay_argv(bench), env, log_dir).start()
    try:
        time.sleep(3)  # imports done, LISTEN in place
        topic = settings.topics.payment_created
        relay.drain_time(stack, stack.database_url, relay.backlog(topic, 500))  # warm-up
        rows = bench.history_backlog
        seconds = min(  # best of two, as the relay phase does: the machine is shared
            relay.drain_time(stack, stack.database_url, relay.backlog(topic, rows))
            for _ in range(2)
        )
        result["relay_claims_per_s"] = round(rows / seconds)
    finally:
        relayd.stop()

    port = free_port()
    api = Service(f"{phase}-api", api_argv(port), env, log_dir).start()
    try:
        wait_ready(api, f"http://127.0.0.1:{port}/healthz")
        base = f"http://127.0.0.1:{port}"
        with requests.Session() as session:
            _http(session, f"{base}/metrics")()  # warm-up
            result["metrics_ms"] = _timed(_http(session, f"{base}/metrics"), REQUESTS)
            rng = random.Random(7)
            pick = lambda: f"{base}/payments/{rng.choice(ids)}"  # noqa: E731
            _http(session, pick)()
            result["get_payment_ms"] = _timed(_http(session, pick), REQUESTS)
            # Lists (issue 30): a page costs the same whatever the history.
            for key, query in LIST_QUERIES.items():
                page = lambda q=query: f"{base}/payments?{q(rng)}"  # noqa: E731
                _http(session, page)()
                result[key] = _timed(_http(session, page), REQUESTS)
    finally:
        api.stop()
    result["outbox_status_ms"] = _outbox_status(env)

    stuck = {"STUCK_AFTER_SECONDS": "20", "OUTBOX_RETENTION_HOURS": str(RETENTION_HOURS)}
    pipeline_bench = dataclasses.replace(bench, extra_env={**bench.extra_env, **stuck})
    pipeline = e2e.start(stack, pipeline_bench, f"{phase}-e2e")
    try:
        step = e2e.step(pipeline, bench.history_rate, STEP_SECONDS, bench.drain_seconds,
                        f"{phase}-e2e")  # fmt: skip
        result["settled_per_s"] = step["settled_per_s"]
        result["e2e_latency_ms"] = step["latency"]
        result["cpu_ms_per_payment"] = step["cpu_ms_per_payment"].get("total")
        result["retention"] = _retention(stack)
    finally:
        pipeline.stop()
    log.info("history %s: %s", label, result)
    return result


def _retention(stack: BenchStack, timeout: float = 120) -> dict[str, Any]:
    """Rows past retention left once the pipeline's janitor has had its rounds."""
    deadline = time.monotonic() + timeout
    with stack.engine.connect() as conn:
        while True:
            left = conn.execute(PAST_RETENTION, {"h": RETENTION_HOURS}).scalar_one()
            conn.rollback()
            if left == 0 or time.monotonic() > deadline:
                return {"past_retention_left": int(left)}
            time.sleep(1)


def _own_stack(stack: BenchStack) -> BenchStack:
    """The stack pointed at a database of the phase's own, with the schema applied."""
    name = f"{make_url(stack.database_url).database}_history"
    with psycopg.connect(libpq(stack.database_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(stack.database_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, pool_size=2)
    migrate(engine)
    return dataclasses.replace(stack, database_url=url, engine=engine)


def _drop(stack: BenchStack) -> None:
    stack.engine.dispose()
    name = make_url(stack.database_url).database
    with psycopg.connect(libpq(stack.database_url).rsplit("/", 1)[0] + "/postgres",
                         autocommit=True) as conn:  # fmt: skip
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Empty, then with history: the same measures side by side."""
    own = _own_stack(stack)
    try:
        n = bench.history_payments
        seed(own.database_url, n + 1, n + 50, outbox=False)  # a few to read back when empty
        with own.engine.begin() as conn:
            conn.execute(PAGE_SEED, {"fan": PAGE_FAN, "event": PAGE_EVENT})
        empty = measure(own, bench, "empty", [history_id(i) for i in range(n + 1, n + 51)])
        seeded = seed(own.database_url, 1, n)
        with own.engine.connect() as conn:
            before = conn.execute(PAST_RETENTION, {"h": RETENTION_HOURS}).scalar_one()
        seeded["outbox_past_retention_before"] = int(before)
        full = measure(own, bench, "full", [history_id(i) for i in range(1, 1 + min(n, 200_000))])
    finally:
        _drop(own)
    return {
        "seed": seeded,
        "empty": empty,
        "full": full,
        "rate": bench.history_rate,
        "seconds": STEP_SECONDS,
    }
