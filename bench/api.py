"""API phase: POST /payments under gunicorn with concurrent clients, beside raw PostgreSQL."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete

from bench import floor, loadgen, profiler, raw_pg, wrk
from bench.payloads import payment_body, post_request
from bench.procs import Service, api_argv, wait_ready
from bench.settings import BenchSettings
from bench.stack import BenchStack
from devstack.procs import free_port
from payments import api_keys
from payments.api_keys import Scope
from payments.db.tables import api_keys as api_keys_table

log = logging.getLogger("bench")


def _load(
    port: int, connections: int, seconds: int, stack: BenchStack, key: str | None = None
) -> dict[str, Any]:
    """Closed-loop POSTs with wrk (or the asyncio generator when wrk is not installed), each
    with `key` as its bearer key."""
    body = payment_body()
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if wrk.available():
        return wrk.run(f"http://127.0.0.1:{port}/payments", body, connections, seconds,
                       stack.log_dir, headers)  # fmt: skip
    log.info("wrk not installed (apt-get install wrk): using the Python load generator")
    request = post_request("127.0.0.1", port, body, headers)
    samples = loadgen.closed_loop("127.0.0.1", port, connections, seconds, lambda i: (request, ""))
    ok = [s for s in samples if s.status == 201]
    latencies = sorted(s.latency for s in ok) or [0.0]
    return {
        "tool": "python",
        "requests": len(samples),
        "ok": len(ok),
        "failed": len(samples) - len(ok),
        "seconds": seconds,
        "per_s": len(ok) / seconds,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "connections": connections,
    }


# Counted on every request (the Redis round trips happen) but never reached by the load.
LIMIT_NEVER_REACHED = "1000000/second"


def _loaded(
    stack: BenchStack,
    bench: BenchSettings,
    name: str,
    argv: Callable[[int], list[str]],
    key: str | None = None,
    **env: str,
) -> dict[str, Any]:
    """The API phase's load (after a 3 s warm-up) on the server `argv(port)` starts."""
    port = free_port()
    environ = stack.env("api", WEB_CONCURRENCY=str(bench.api_workers),
                        GUNICORN_THREADS=str(bench.api_threads), **env)  # fmt: skip
    api = Service(name, argv(port), environ, stack.log_dir).start()
    try:
        wait_ready(api, f"http://127.0.0.1:{port}/healthz")
        _load(port, bench.api_connections, 3, stack, key)
        load = _load(port, bench.api_connections, bench.api_seconds, stack, key)
        log.info("%s: %.0f req/s (%s failed)", name, load["per_s"], load["failed"])
    finally:
        api.stop()
    return load


def _limiter_cost(stack: BenchStack, bench: BenchSettings, key: str) -> dict[str, Any]:
    """The same load on an API whose rate limiter counts every request in Redis."""
    return _loaded(stack, bench, "api-limited", api_argv, key, RATE_LIMIT=LIMIT_NEVER_REACHED)


STATIC_KEY = "bench-static-key-0123456789abcdef"  # noqa: S105 (the bench's own)


def _static_key(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """The same load with a key from API_KEYS (no lookup, every scope): authorization's cost
    is the main load's (a database key, scoped) against this one."""
    return _loaded(stack, bench, "api-static-key", api_argv, STATIC_KEY, API_KEYS=STATIC_KEY)


@contextmanager
def _database_key(stack: BenchStack) -> Iterator[str]:
    """A front end's key, made as `flask keys create` makes it, deleted afterwards (a key in
    the database makes every later phase's API require one)."""
    secret = stack.settings("api").api_key_secret
    with stack.engine.begin() as conn:
        key = api_keys.create(conn, secret, "bench-front-end", [Scope.PAYMENTS_WRITE])
    try:
        yield key
    finally:
        with stack.engine.begin() as conn:
            conn.execute(delete(api_keys_table))


def _minimal_endpoint(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """The same load on the floor: a minimal Flask + psycopg endpoint writing the same two rows
    in one transaction (bench.skeleton), under the same gunicorn settings."""
    template = floor.commands(bench)["api"]
    assert template is not None
    return _loaded(stack, bench, "api-minimal",
                   lambda port: [a.replace("{port}", str(port)) for a in template])  # fmt: skip


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Raw PostgreSQL commits/s, then the API's 201s/s, same rows, same concurrency."""
    settings = stack.settings("api")
    # PostgreSQL's best for these rows: with as many connections as the API has clients, and
    # with as many as the API itself holds at most (fewer commits then wait on each other).
    levels = sorted({bench.api_connections, bench.api_workers * bench.api_threads})
    raw_runs = [
        raw_pg.commit_rate(settings.database_url, settings.topics.payment_created, clients,
                           max(2, bench.api_seconds // 2))  # two levels: half the time each
        for clients in levels
    ]  # fmt: skip
    raw = max(raw_runs, key=lambda r: r["per_s"])
    for r in raw_runs:
        log.info("raw PostgreSQL: %.0f commits/s with %d connections", r["per_s"], r["clients"])
    with _database_key(stack) as key:
        port = free_port()
        env = stack.env("api", WEB_CONCURRENCY=str(bench.api_workers),
                        GUNICORN_THREADS=str(bench.api_threads))  # fmt: skip
        api = Service("api", api_argv(port), env, stack.log_dir).start()
        try:
            wait_ready(api, f"http://127.0.0.1:{port}/healthz")
            _load(port, bench.api_connections, 3, stack, key)  # warm-up: pools, caches, code
            profile = (
                profiler.Profile("api", api.pid, bench.api_seconds - 2, stack.log_dir)
                if bench.profile and profiler.available()
                else None
            )
            load = _load(port, bench.api_connections, bench.api_seconds, stack, key)
            log.info("API: %.0f req/s (%s failed)", load["per_s"], load["failed"])
            hot = profile.finish() if profile else None
            time.sleep(0.5)
        finally:
            api.stop()
        static = _static_key(stack, bench)
        limited = _limiter_cost(stack, bench, key)
    minimal = _minimal_endpoint(stack, bench)
    result = {
        "api": load,
        "minimal_endpoint": minimal,
        "minimal_ratio": load["per_s"] / minimal["per_s"] if minimal["per_s"] else 0.0,
        "api_static_key": static,
        "auth_cost_ratio": load["per_s"] / static["per_s"] if static["per_s"] else 0.0,
        "api_rate_limited": limited,
        "limiter_cost_ratio": limited["per_s"] / load["per_s"] if load["per_s"] else 0.0,
        "raw_pg": raw,
        "raw_pg_runs": raw_runs,
        "ratio": load["per_s"] / raw["per_s"] if raw["per_s"] else 0.0,
        "workers": bench.api_workers,
        "threads": bench.api_threads,
        "memory": [m.__dict__ for m in api.memory],
    }
    if hot:
        result["profile"] = hot
    (stack.log_dir / "api.json").write_text(json.dumps(result, indent=2, default=str))
    return result
