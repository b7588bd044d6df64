"""RATE_LIMIT on real Redis (contract sections 2 and 3): 429 problem+json with Retry-After,
one count per caller shared by every API process, health endpoints never limited, and a
Redis that does not answer lets requests through (fail open, counted)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from payments.bootstrap import bootstrap
from payments.config import Settings
from tests.support import env
from tests.support.factories import payment_body
from tests.support.procs import Process, wait_http


def _environ(namespace: str, **extra: str) -> dict[str, str]:
    return env.base_env(DRAMATIQ_NAMESPACE=namespace, **extra)


@pytest.fixture
def two_apis(tmp_path: Path, engine: Engine) -> Iterator[tuple[str, str]]:
    """Two real API processes sharing Redis, limited to 5 requests a minute per caller."""
    environ = _environ(f"test-rl-{uuid.uuid4().hex[:8]}", RATE_LIMIT="5/minute")
    processes = [Process("api", {**environ}, tmp_path, port=env.free_port()) for i in range(2)]
    for i, process in enumerate(processes):
        process.label = f"api{i}"  # its log file
    started = []
    try:
        for process in processes:
            process.start()
            started.append(process)
        urls = [f"http://127.0.0.1:{p.port}" for p in processes]
        for url in urls:
            wait_http(f"{url}/healthz")
        yield urls[0], urls[1]
    finally:
        for process in started:
            process.stop()


def test_the_limit_is_one_count_across_api_processes_with_a_429_problem(
    two_apis: tuple[str, str],
) -> None:
    first, second = two_apis
    statuses = []
    for i in range(7):  # alternating between the two processes
        url = first if i % 2 == 0 else second
        body = payment_body(event_id="evt-rate-limit")
        statuses.append(requests.post(f"{url}/payments", json=body, timeout=10))
    assert [r.status_code for r in statuses] == [201] * 5 + [429] * 2
    limited = statuses[-1]
    assert limited.headers["Content-Type"].startswith("application/problem+json")
    problem = limited.json()
    assert problem["type"].endswith("rate-limited") and problem["status"] == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60

    pt = requests.post(
        f"{second}/payments",
        json=payment_body(),
        headers={"Accept-Language": "pt-BR"},
        timeout=10,
    )
    assert pt.status_code == 429 and pt.json()["title"] == "Requisições demais"

    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):  # never limited
        for _ in range(3):
            assert requests.get(f"{first}{path}", timeout=10).status_code == 200, path


def _app(settings: Settings, **changes: str):  # type: ignore[no-untyped-def]
    import dataclasses

    from web import create_app

    return create_app({"CONTAINER": bootstrap(dataclasses.replace(settings, **changes))})


def test_each_api_key_has_its_own_count(settings: Settings) -> None:
    namespace = f"test-rl-{uuid.uuid4().hex[:8]}"
    app = _app(
        settings, rate_limit="2/minute", api_keys=("key-a", "key-b"), dramatiq_namespace=namespace
    )
    client = app.test_client()

    def post(key: str) -> int:
        headers = {"Authorization": f"Bearer {key}"}
        return client.post("/payments", json=payment_body(), headers=headers).status_code

    assert [post("key-a") for _ in range(3)] == [201, 201, 429]
    assert [post("key-b") for _ in range(2)] == [201, 201]


def test_a_redis_that_does_not_answer_lets_payments_through(
    settings: Settings, engine: Engine
) -> None:
    dead = f"redis://127.0.0.1:{env.free_port()}/0"  # nothing listens there
    app = _app(settings, rate_limit="1/minute", redis_url=dead)
    client = app.test_client()
    codes = [client.post("/payments", json=payment_body()).status_code for _ in range(3)]
    assert codes == [201, 201, 201]
    scraped = client.get("/metrics").get_data(as_text=True)
    line = next(x for x in scraped.splitlines() if x.startswith("ratelimit_storage_errors_total"))
    assert float(line.split()[-1]) >= 3


def test_the_limiter_leaves_a_problems_own_retry_after_alone(settings: Settings) -> None:
    """Flask-Limiter rewrites Retry-After on every response; a 503's "retry in 5 s" must reach
    the client as such (it came out as "0" or "4"), and a 201 carries none."""
    namespace = f"test-rl-{uuid.uuid4().hex[:8]}"
    down = f"postgresql+psycopg://root@127.0.0.1:{env.free_port()}/nowhere"
    app = _app(settings, rate_limit="100/minute", dramatiq_namespace=namespace,
               database_url=down)  # fmt: skip
    unavailable = app.test_client().post("/payments", json=payment_body())
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "5"
    assert unavailable.headers["X-RateLimit-Limit"] == "100"  # the limiter did count it

    healthy = _app(settings, rate_limit="100/minute", dramatiq_namespace=namespace)
    created = healthy.test_client().post("/payments", json=payment_body())
    assert created.status_code == 201 and "Retry-After" not in created.headers
