"""POST/GET /payments as the front end uses them, auth, health and the OpenAPI document."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text

from tests.support.api import go_request
from tests.support.env import free_port


def test_the_old_go_front_end_request_still_gets_201(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    body = go_request()
    raw = json.dumps(body)  # as the Go front end sends it: a float amount, only Content-Type
    assert '"event_amount": 125.5' in raw and len(body) == 9
    response = client.post("/payments", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert response.headers["Location"] == f"/payments/{created['id']}"
    assert created["status"] == "PENDING" and created["transaction"] is None
    assert created["amount"] == "125.50" and created["currency"] == "USD"
    assert created["user_language"] == "pt_BR"
    assert "payment_token" not in created
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT amount, payment_token FROM payments WHERE id = :id"), {"id": created["id"]}
        ).one()
    assert stored.amount == Decimal("125.50") and stored.payment_token == "TOKEN123"


def test_get_shows_the_payment_resource(client) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/payments", json=go_request()).get_json()
    response = client.get(f"/payments/{created['id']}")
    assert response.status_code == 200
    assert response.get_json() == created


@pytest.mark.parametrize(
    ("changes", "amount", "currency"),
    [
        ({"event_amount": "125.5", "currency": "brl"}, "125.50", "BRL"),
        ({"event_amount": 5000, "currency": "JPY"}, "5000", "JPY"),
        ({"event_amount": "9999999999.99"}, "9999999999.99", "USD"),
    ],
)
def test_amounts_stay_exact_per_currency(client, changes, amount, currency) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/payments", json=go_request(**changes)).get_json()
    assert (created["amount"], created["currency"]) == (amount, currency)


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"event_amount": "12.5", "currency": "JPY"}, {"event_amount"}),
        ({"event_amount": 0.001}, {"event_amount"}),
        ({"event_amount": "10000000000.00"}, {"event_amount"}),
        ({"event_amount": True}, {"event_amount"}),
        ({"event_amount": "1e3"}, {"event_amount"}),
        ({"currency": "XYZ"}, {"currency"}),
        ({"event_image_url": "ftp://img.example.com/a.png"}, {"event_image_url"}),
        ({"user_language": "not a tag"}, {"user_language"}),
        ({"user_name": "x" * 201, "event_id": "bad\u0000id"}, {"user_name", "event_id"}),
    ],
)
def test_rule_violations_are_422(client, changes, fields) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/payments", json=go_request(**changes))
    assert response.status_code == 422
    assert {e["field"] for e in response.get_json()["errors"]} == fields


def test_user_language_falls_back_to_accept_language_then_en(client) -> None:  # type: ignore[no-untyped-def]
    def language(headers: dict, **changes) -> str:  # type: ignore[no-untyped-def]
        body = go_request(**{"user_language": ..., **changes})
        return client.post("/payments", json=body, headers=headers).get_json()["user_language"]

    assert language({"Accept-Language": "fr, es-MX;q=0.8"}) == "es_MX"
    assert language({"Accept-Language": "de"}) == "en"
    assert language({}) == "en"
    assert language({"Accept-Language": "es"}, user_language="pt-PT") == "pt_PT"


def test_health_openapi_and_readiness_stay_open_with_api_keys(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app(api_keys=("k1",)).test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").get_json() == {
        "status": "ready",
        "postgresql": "up",
        "redis": "up",
    }
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert document["paths"]["/payments"]["post"]["security"] == [
        {"bearerAuth": ["payments:write"]}
    ]


def test_readyz_is_503_naming_what_is_down(make_app) -> None:  # type: ignore[no-untyped-def]
    from payments.db.engine import make_engine

    client = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0").test_client()
    response = client.get("/readyz")
    assert response.status_code == 503 and response.mimetype == "application/problem+json"
    assert "redis" in response.get_json()["detail"]
    assert "postgresql" not in response.get_json()["detail"]
    closed = make_engine(f"postgresql+psycopg://root@127.0.0.1:{free_port()}/x", 1)
    detail = make_app(engine_=closed).test_client().get("/readyz").get_json()["detail"]
    assert "postgresql" in detail and "redis" not in detail
    closed.dispose()


def test_get_of_an_unknown_uuid_does_not_leak_anything(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get(f"/payments/{uuid.uuid4()}").get_json()
    assert set(body) == {"type", "title", "status", "detail"}
