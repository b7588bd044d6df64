"""Idempotency-Key semantics of POST /payments on the real app and real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from payments.db.idempotency_store import SqlIdempotencyStore
from tests.support.api import count_payments, go_request, new_key
from web.auth import scope_of


def post(client, body: dict, key: str, path: str = "/payments", **headers: str):  # type: ignore[no-untyped-def]
    return client.post(path, json=body, headers={"Idempotency-Key": key, **headers})


def stored_rows(engine: Engine, key: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT scope, response_status, response_body::text AS body "
                "FROM idempotency_keys WHERE key = :k"
            ),
            {"k": key},
        )
        return [dict(r._mapping) for r in rows]


def test_same_key_and_body_replays_the_first_response(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, body = new_key(), go_request()
    first = post(client, body, key)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    reordered = dict(reversed(list(body.items())))  # key order does not matter
    again = post(client, reordered, key, path="/payments/")
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert again.get_data() == first.get_data()
    assert count_payments(engine, body["event_id"]) == 1


def test_the_stored_response_never_holds_the_token(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, body = new_key(), go_request(payment_token="SECRET-TOKEN-42")
    assert post(client, body, key).status_code == 201
    [row] = stored_rows(engine, key)
    assert row["response_status"] == 201
    assert "SECRET-TOKEN-42" not in row["body"] and "payment_token" not in row["body"]


def test_failed_validation_is_not_stored(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, body = new_key(), go_request()
    assert post(client, dict(body, event_amount=0), key).status_code == 422
    assert stored_rows(engine, key) == []
    retry = post(client, body, key)
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers


def test_keys_are_scoped_to_the_callers_api_key(make_app, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    client = make_app(api_keys=("alpha-key", "beta-key")).test_client()
    key, body = new_key(), go_request()
    a = post(client, body, key, Authorization="Bearer alpha-key")
    b = post(client, body, key, Authorization="Bearer beta-key")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers
    assert count_payments(engine, body["event_id"]) == 2
    scopes = {row["scope"] for row in stored_rows(engine, key)}
    assert scopes == {scope_of("alpha-key"), scope_of("beta-key")}
    assert not any("alpha-key" in s or "beta-key" in s for s in scopes)


def test_an_expired_key_counts_as_absent_and_is_purged(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, stale_key, body = new_key(), new_key(), go_request()
    assert post(client, body, key).status_code == 201
    assert post(client, go_request(), stale_key).status_code == 201
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
                "WHERE key IN (:a, :b)"
            ),
            {"a": key, "b": stale_key},
        )
    other = dict(body, event_amount="10.00")  # would be 422 while the key lived
    response = post(client, other, key)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    assert count_payments(engine, body["event_id"]) == 2
    assert stored_rows(engine, stale_key) == []  # cleaned up on write


def test_a_key_abandoned_in_flight_is_taken_over_after_its_lease(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, body = new_key(), go_request()
    with engine.begin() as conn:  # a request claimed it and died before finishing
        SqlIdempotencyStore(conn).claim("anonymous", key, "x", timedelta(hours=1), timedelta(0))
        conn.execute(
            text(
                "UPDATE idempotency_keys SET locked_at = now() - interval '1 hour' WHERE key = :k"
            ),
            {"k": key},
        )
    response = post(client, body, key)
    assert response.status_code == 201
    assert count_payments(engine, body["event_id"]) == 1


@pytest.mark.parametrize("widen", [False, True])
def test_two_concurrent_requests_create_exactly_one_payment(
    app, engine: Engine, monkeypatch, widen: bool
) -> None:  # type: ignore[no-untyped-def]
    if widen:  # hold the first request inside its transaction a little, so that they overlap
        real_finish = SqlIdempotencyStore.finish

        def slow_finish(*args, **kwargs):  # type: ignore[no-untyped-def]
            threading.Event().wait(0.3)
            return real_finish(*args, **kwargs)

        monkeypatch.setattr(SqlIdempotencyStore, "finish", slow_finish)
    key, body = new_key(), go_request()
    barrier = threading.Barrier(2)
    responses = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        responses.append(post(client, body, key))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert count_payments(engine, body["event_id"]) == 1
    outcome = sorted((r.status_code, r.headers.get("Idempotent-Replayed", "")) for r in responses)
    assert outcome in ([(201, ""), (409, "")], [(201, ""), (201, "true")])


def test_an_invalid_idempotency_key_header_is_a_validation_error(client) -> None:  # type: ignore[no-untyped-def]
    for bad in ("", "x" * 256, "tab\there"):
        response = client.post("/payments", json=go_request(), headers={"Idempotency-Key": bad})
        assert response.status_code == 422
        assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"
