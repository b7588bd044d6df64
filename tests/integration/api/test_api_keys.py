"""Scoped, hashed, revocable API keys (contract section 11), on a database of their own
(a created key makes authentication required for every caller of that database)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.cli import cli as flask_cli
from sqlalchemy import Engine, text

from payments import services
from payments.adapters.gateway import FakeGateway
from payments.api_keys import KEY_CACHE_S
from payments.bootstrap import bootstrap
from tests.support import env
from tests.support.factories import payment_body
from tests.support.wiring import schema_engine

FRONT = ("payments:write", "payments:read")
BACK = ("payments:read", "refunds:write", "events:write", "events:read")


@pytest.fixture(scope="module")
def keys_engine() -> Iterator[Engine]:
    with env.own_database("apikeys") as url, schema_engine(url, pool_size=2) as engine:
        yield engine


@pytest.fixture
def make(keys_engine: Engine) -> Callable[..., Flask]:
    from web import create_app

    def build(**overrides: str) -> Flask:
        container = bootstrap(env.settings(RATE_LIMIT="off", **overrides), engine=keys_engine)
        return create_app({"TESTING": True, "CONTAINER": container})

    return build


def cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(flask_cli, args=list(args))


def create_key(app: Flask, name: str, scopes: tuple[str, ...]) -> str:
    result = cli(app, "keys", "create", name, *(f"--scope={s}" for s in scopes))
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]  # alone on the last line


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_each_scope_allows_its_endpoints_and_refuses_the_others(
    make: Callable[..., Flask], keys_engine: Engine
) -> None:
    app = make()
    suffix = uuid.uuid4().hex[:8]
    front, back = create_key(app, f"front-{suffix}", FRONT), create_key(app, f"back-{suffix}", BACK)
    client = app.test_client()

    assert client.post("/payments", json=payment_body()).status_code == 401  # no key
    created = client.post("/payments", json=payment_body(), headers=bearer(front))
    assert created.status_code == 201, created.get_json()
    pid = created.get_json()["id"]
    assert client.get(f"/payments/{pid}", headers=bearer(front)).status_code == 200
    services.charge_payment(
        bootstrap(env.settings(), engine=keys_engine).uow(), FakeGateway(), uuid.UUID(pid)
    )

    refused = client.post(
        f"/payments/{pid}/refunds", json={}, headers={**bearer(front), "Accept-Language": "es"}
    )
    assert refused.status_code == 403
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["type"].endswith("insufficient-scope")
    assert refused.get_json()["title"] == "Alcance insuficiente"
    assert refused.headers["WWW-Authenticate"] == (
        'Bearer realm="payments", error="insufficient_scope", scope="refunds:write"'
    )
    event = f"evt-keys-{suffix}"
    for method, path, scope in (
        ("post", f"/events/{event}/cancellation", "events:write"),
        ("get", f"/events/{event}/cancellation", "events:read"),
    ):
        answer = getattr(client, method)(path, json={}, headers=bearer(front))
        assert (
            answer.status_code == 403 and f'scope="{scope}"' in answer.headers["WWW-Authenticate"]
        )

    refund = client.post(f"/payments/{pid}/refunds", json={}, headers=bearer(back))
    assert refund.status_code == 201, refund.get_json()
    assert (
        client.get(f"/refunds/{refund.get_json()['id']}", headers=bearer(back)).status_code == 200
    )
    assert (
        client.post(f"/events/{event}/cancellation", json={}, headers=bearer(back)).status_code
        == 202
    )
    assert client.get(f"/events/{event}/cancellation", headers=bearer(back)).status_code == 200
    refused = client.post("/payments", json=payment_body(), headers=bearer(back))
    assert (
        refused.status_code == 403
        and 'scope="payments:write"' in refused.headers["WWW-Authenticate"]
    )

    with keys_engine.connect() as conn:  # only hashes are stored
        stored = conn.execute(text("SELECT * FROM api_keys")).all()
    assert stored and not [r for r in stored if front in repr(r) or back in repr(r)]


def test_a_revoked_key_is_refused_within_seconds_and_api_keys_hold_every_scope(
    make: Callable[..., Flask],
) -> None:
    static = "static-key-" + uuid.uuid4().hex
    app, other = make(API_KEYS=static), make(API_KEYS=static)  # two processes' caches
    name = f"revoked-{uuid.uuid4().hex[:8]}"
    key = create_key(app, name, FRONT)
    for each in (app, other):
        assert (
            each.test_client()
            .post("/payments", json=payment_body(), headers=bearer(key))
            .status_code
            == 201
        )

    result = cli(app, "keys", "revoke", name)
    assert result.exit_code == 0 and f"revoked key {name}" in result.output
    again = cli(app, "keys", "revoke", name)
    assert again.exit_code == 1 and f"no active key named {name!r}" in again.output
    time.sleep(KEY_CACHE_S + 0.2)  # the longest any process keeps what it looked up
    for each in (app, other):
        answer = each.test_client().post("/payments", json=payment_body(), headers=bearer(key))
        assert answer.status_code == 401
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]
    listed = cli(app, "keys", "list")
    assert listed.exit_code == 0
    line = next(x for x in listed.output.splitlines() if x.startswith(name + " "))
    assert key not in listed.output and key[:11] in line and "revoked=" in line

    client = app.test_client()
    created = client.post("/payments", json=payment_body(), headers=bearer(static))
    assert created.status_code == 201
    assert (
        client.post(
            f"/events/evt-static-{uuid.uuid4().hex[:6]}/cancellation",
            json={},
            headers=bearer(static),
        ).status_code
        == 202
    )


def test_bad_key_commands_exit_with_one_line(make: Callable[..., Flask]) -> None:
    app = make()
    name = f"dup-{uuid.uuid4().hex[:8]}"
    create_key(app, name, ("events:read",))
    taken = cli(app, "keys", "create", name, "--scope", "events:read")
    assert taken.exit_code == 1 and f"a key named {name!r} exists already" in taken.output
    assert cli(app, "keys", "create", "x").exit_code == 2  # no scope
    assert cli(app, "keys", "create", "x", "--scope", "refunds:read").exit_code == 2


def test_every_api_route_declares_the_scope_it_needs(make: Callable[..., Flask]) -> None:
    from web import auth

    app = make()
    api = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(("/payments", "/refunds", "/events"))
    ]
    assert len(api) >= 6
    with app.app_context():
        undeclared = [rule.rule for rule in api if auth.required_scope(rule.endpoint) is None]
    assert undeclared == []


def test_logs_name_the_key_and_never_show_it(
    make: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    app = make()
    name = f"logged-{uuid.uuid4().hex[:8]}"
    key = create_key(app, name, FRONT)
    with caplog.at_level(logging.DEBUG):
        answer = app.test_client().post("/payments", json=payment_body(), headers=bearer(key))
    assert answer.status_code == 201
    http = [r for r in caplog.records if r.name == "payments.http"]
    assert [getattr(r, "api_key", None) for r in http] == [name]
    assert not [r for r in caplog.records if key in r.getMessage() or key in repr(r.__dict__)]


def test_requests_are_counted_per_key_by_name(make: Callable[..., Flask]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    app = make()
    name = f"counted-{uuid.uuid4().hex[:8]}"
    key = create_key(app, name, FRONT)
    client = app.test_client()
    assert client.post("/payments", json=payment_body(), headers=bearer(key)).status_code == 201
    refused = client.post(f"/events/evt-{name}/cancellation", json={}, headers=bearer(key))
    assert refused.status_code == 403
    assert client.get("/healthz").status_code == 200  # not an API request: not counted
    scraped = client.get("/metrics").get_data(as_text=True)
    assert key not in scraped  # the name, never the key
    samples = {
        (s.labels.get("api_key"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(scraped)
        for s in family.samples
        if s.name == "http_requests_by_key_total"
    }
    assert samples == {(name, "201"): 1.0, (name, "403"): 1.0}
