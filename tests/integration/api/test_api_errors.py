"""One test per row of the contract's error table, on the real app and real PostgreSQL."""

from __future__ import annotations

import http.client
import logging
import threading
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine
from werkzeug.serving import make_server

from payments import services
from payments.db.engine import make_engine
from payments.db.idempotency_store import SqlIdempotencyStore
from tests.support.api import count_payments, go_request, new_key
from tests.support.env import free_port
from web.auth import ANONYMOUS

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, slug: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_400_when_the_body_is_not_json(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/payments", data="{not json", content_type="application/json")
    assert_problem(response, 400, "bad-request")


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null", '{"a": NaN}'])
def test_400_when_the_body_is_not_an_object(client, body: str) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/payments", data=body, content_type="application/json")
    assert_problem(response, 400, "bad-request")


def test_401_without_or_with_a_wrong_bearer_key(make_app) -> None:  # type: ignore[no-untyped-def]
    client = make_app(api_keys=("key-one", "key-two")).test_client()
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic key-one"}):
        response = client.post("/payments", json=go_request(), headers=headers)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get(f"/payments/{uuid.uuid4()}").status_code == 401
    ok = client.post("/payments", json=go_request(), headers={"Authorization": "Bearer key-two"})
    assert ok.status_code == 201


def test_404_for_an_unknown_payment_and_for_a_non_uuid(client) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.get(f"/payments/{uuid.uuid4()}"), 404, "not-found")
    assert_problem(client.get("/payments/not-a-uuid"), 404, "not-found")
    assert_problem(client.get("/nowhere"), 404, "not-found")


def test_405_for_a_wrong_method_names_the_allowed_ones(client) -> None:  # type: ignore[no-untyped-def]
    response = client.put("/payments", json=go_request())
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]
    response = client.delete(f"/payments/{uuid.uuid4()}")
    assert_problem(response, 405, "method-not-allowed")
    assert "GET" in response.headers["Allow"]


def test_409_while_the_first_request_with_the_key_is_in_flight(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, body = new_key(), go_request()
    with engine.begin() as conn:  # the first request has claimed the key and is still running
        fingerprint = _fingerprint(client, body)
        claimed = SqlIdempotencyStore(conn).claim(
            ANONYMOUS, key, fingerprint, timedelta(hours=1), timedelta(minutes=5)
        )
        assert claimed is not None
    response = client.post("/payments", json=body, headers={"Idempotency-Key": key})
    assert_problem(response, 409, "idempotency-key-in-flight")
    assert count_payments(engine, body["event_id"]) == 0


def _fingerprint(client, body: dict) -> str:  # type: ignore[no-untyped-def]
    from web.bodies import parse_json_object
    from web.idempotency import request_hash

    with client.application.test_request_context("/payments", method="POST", json=body):
        return request_hash(parse_json_object())


def test_413_for_a_body_over_64_kib_without_parsing_it(client, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("web.bodies.json", SimpleNamespace(loads=_must_not_parse))
    big = b'{"user_name": "' + b"x" * (64 * 1024) + b'"}'
    response = client.post("/payments", data=big, content_type="application/json")
    assert_problem(response, 413, "payload-too-large")


def _must_not_parse(*args, **kwargs):  # type: ignore[no-untyped-def]
    raise AssertionError("a body over the limit was parsed")


def test_413_for_a_chunked_body_over_a_real_socket(app) -> None:  # type: ignore[no-untyped-def]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
        chunks = (b'{"user_name": "', *([b"y" * 8192] * 10), b'"}')
        conn.request(
            "POST",
            "/payments",
            body=iter(chunks),
            headers={"Content-Type": "application/json"},
            encode_chunked=True,
        )
        response = conn.getresponse()
        assert response.status == 413
        assert response.getheader("Content-Type") == PROBLEM
        conn.close()
    finally:
        server.shutdown()
        thread.join(5)


def test_415_when_the_content_type_is_not_json(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/payments", data="user_name=x", content_type="text/plain")
    assert_problem(response, 415, "unsupported-media-type")
    no_type = client.post("/payments", data=b'{"user_name": "x"}')
    assert_problem(no_type, 415, "unsupported-media-type")


def test_422_names_every_bad_field_including_unknown_ones(client) -> None:  # type: ignore[no-untyped-def]
    body = go_request(
        user_email="not-an-email", event_amount="-3", card_number="4111", user_name=...
    )
    problem = assert_problem(client.post("/payments", json=body), 422, "validation-error")
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"user_email", "event_amount", "card_number", "user_name"}
    assert all(error["message"] for error in problem["errors"])


@pytest.mark.parametrize(
    ("language", "unknown", "required"),
    [
        ("en", "Unknown field.", "This field is required."),
        ("pt-BR,pt;q=0.9", "Campo desconhecido.", "Este campo é obrigatório."),
        ("es", "Campo desconocido.", "Este campo es obligatorio."),
    ],
)
def test_422_messages_follow_accept_language(client, language, unknown, required) -> None:  # type: ignore[no-untyped-def]
    body = go_request(extra=1, user_name=...)
    response = client.post("/payments", json=body, headers={"Accept-Language": language})
    messages = {
        e["field"]: e["message"]
        for e in assert_problem(response, 422, "validation-error")["errors"]
    }
    assert messages == {"extra": unknown, "user_name": required}


def test_422_when_the_idempotency_key_is_reused_with_another_body(client, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    key, body = new_key(), go_request()
    assert client.post("/payments", json=body, headers={"Idempotency-Key": key}).status_code == 201
    other = dict(body, event_amount=99)
    response = client.post("/payments", json=other, headers={"Idempotency-Key": key})
    problem = assert_problem(response, 422, "idempotency-key-reused")
    assert problem["type"].endswith("idempotency-key-reused")
    assert count_payments(engine, body["event_id"]) == 1


def test_503_when_the_database_cannot_be_reached(make_app) -> None:  # type: ignore[no-untyped-def]
    closed = make_engine(f"postgresql+psycopg://root@127.0.0.1:{free_port()}/nowhere", 1)
    client = make_app(engine_=closed).test_client()
    for response in (
        client.post("/payments", json=go_request()),
        client.post("/payments", json=go_request(), headers={"Idempotency-Key": new_key()}),
        client.get(f"/payments/{uuid.uuid4()}"),
    ):
        assert_problem(response, 503, "service-unavailable")
        assert response.headers["Retry-After"]
    closed.dispose()


def test_500_names_a_request_id_that_the_logged_traceback_carries(
    client, engine: Engine, monkeypatch, caplog
) -> None:  # type: ignore[no-untyped-def]
    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom in SELECT secret FROM payments")

    monkeypatch.setattr(services, "place_payment", broken)
    key, body = new_key(), go_request()
    with caplog.at_level(logging.ERROR, logger="payments.api"):
        response = client.post("/payments", json=body, headers={"Idempotency-Key": key})
    problem = assert_problem(response, 500, "internal-error")
    request_id = problem["request_id"]
    assert request_id in problem["detail"]
    assert response.headers["X-Request-ID"] == request_id
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "SELECT" not in text and "boom" not in text
    [record] = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert record.exc_info is not None and "boom" in str(record.exc_info[1])
    monkeypatch.undo()  # the failure released the key: the retry goes through
    retry = client.post("/payments", json=body, headers={"Idempotency-Key": key})
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert count_payments(engine, body["event_id"]) == 1
