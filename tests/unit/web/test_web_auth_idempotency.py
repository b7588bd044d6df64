"""Bearer keys, request fingerprints, the Idempotency-Key header and replay answers."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from decimal import Decimal

import pytest
from flask import Flask

from payments.bootstrap import APP_KEY, bootstrap
from payments.config import Settings
from payments.db.idempotency_store import StoredKey
from web import auth, i18n, idempotency
from web.problems import Problem

SECRET = "unit-test-idempotency-secret"


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask("web")
    i18n.init_app(app)
    app.extensions[APP_KEY] = bootstrap(Settings(idempotency_secret=SECRET))
    return app


def test_matching_key_finds_the_configured_key_only() -> None:
    keys = ("alpha", "beta")
    assert auth.matching_key("beta", keys) == "beta"
    assert auth.matching_key("bet", keys) is None
    assert auth.matching_key("", keys) is None
    assert auth.matching_key("ålpha", keys) is None


def test_a_scope_never_holds_the_key() -> None:
    scope = auth.scope_of("s3cret-key")
    assert "s3cret" not in scope and scope == auth.scope_of("s3cret-key")
    assert scope != auth.scope_of("other-key")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("", None),
    ],
)
def test_bearer_token(app: Flask, header: str, token: str | None) -> None:
    with app.test_request_context(headers={"Authorization": header}):
        assert auth.bearer_token() == token


def fingerprint(app: Flask, body: dict, path: str = "/payments", method: str = "POST") -> str:
    with app.test_request_context(path, method=method):
        return idempotency.request_hash(body)


def test_the_fingerprint_ignores_key_order_and_a_trailing_slash(app: Flask) -> None:
    body = {"a": Decimal("1.50"), "b": ["x", {"c": None}]}
    same = {"b": ["x", {"c": None}], "a": Decimal("1.50")}
    assert fingerprint(app, body) == fingerprint(app, same, "/payments/")


@pytest.mark.parametrize(
    "other",
    [{"a": Decimal("1.5"), "b": ["x", {"c": None}]}, {"a": Decimal("1.50"), "b": ["x"]}],
)
def test_the_fingerprint_changes_with_the_body(app: Flask, other: dict) -> None:
    assert fingerprint(app, {"a": Decimal("1.50"), "b": ["x", {"c": None}]}) != fingerprint(
        app, other
    )


def test_the_fingerprint_is_keyed_so_the_token_in_the_body_cannot_be_guessed_from_it(
    app: Flask,
) -> None:
    body = {"payment_token": "TOKEN123", "event_amount": "1.00"}
    canonical = json.dumps(
        {"method": "POST", "path": "/payments", "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    found = fingerprint(app, body)
    assert (
        found == "hmac-sha256:" + hmac.new(SECRET.encode(), canonical, hashlib.sha256).hexdigest()
    )
    assert hashlib.sha256(canonical).hexdigest() not in found  # no bare hash of the body
    other = Flask("web")
    other.extensions[APP_KEY] = bootstrap(Settings(idempotency_secret="another-secret-value!"))
    with other.test_request_context("/payments", method="POST"):
        assert idempotency.request_hash(body) != found


def test_the_fingerprint_includes_method_and_path(app: Flask) -> None:
    assert fingerprint(app, {}) != fingerprint(app, {}, method="PUT")
    assert fingerprint(app, {}) != fingerprint(app, {}, path="/other")


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("abc-123", "abc-123"),
        ('"quoted"', "quoted"),
        ("  spaced  ", "spaced"),
        ("x" * 255, "x" * 255),
    ],
)
def test_header_key_accepts(app: Flask, header: str, key: str) -> None:
    with app.test_request_context(headers={idempotency.HEADER: header}):
        assert idempotency.header_key() == key


@pytest.mark.parametrize("header", ["", '""', "x" * 256, "caf\u00e9", "a\x01b"])
def test_header_key_refuses(app: Flask, header: str) -> None:
    headers = {idempotency.HEADER: header}
    with app.test_request_context(headers=headers), pytest.raises(Problem) as caught:
        idempotency.header_key()
    assert caught.value.status == 422
    assert caught.value.errors and caught.value.errors[0]["field"] == idempotency.HEADER


def test_no_header_means_no_key(app: Flask) -> None:
    with app.test_request_context():
        assert idempotency.header_key() is None


def test_answer_replays_the_stored_response(app: Flask) -> None:
    pid = uuid.uuid4()
    stored = StoredKey("h", 201, {"id": str(pid), "amount": "1.00"}, pid)
    with app.test_request_context():
        response = idempotency.answer(stored, "h")
    assert response.status_code == 201
    assert response.get_json() == {"id": str(pid), "amount": "1.00"}
    assert response.headers["Idempotent-Replayed"] == "true"
    assert response.headers["Location"] == f"/payments/{pid}"


@pytest.mark.parametrize(
    ("stored", "status", "slug"),
    [
        (StoredKey("other", 201, {}, None), 422, "idempotency-key-reused"),
        (StoredKey("other", None, None, None), 422, "idempotency-key-reused"),
        (StoredKey("h", None, None, None), 409, "idempotency-key-in-flight"),
    ],
)
def test_answer_refuses(app: Flask, stored: StoredKey, status: int, slug: str) -> None:
    with app.test_request_context(), pytest.raises(Problem) as caught:
        idempotency.answer(stored, "h")
    assert (caught.value.status, caught.value.slug) == (status, slug)
