"""The simulator's HTTP API: the part of Stripe's the service uses (contract section 12), with
Stripe's object and error shapes, its authentication and idempotency behaviour, plus test
controls under `/_simulator/` that Stripe does not have.

A dev and test component, never a production process: `make run` and the tests start it
when `GATEWAY_URL` does not answer; `flask gateway simulator` starts it by hand.
"""

from __future__ import annotations

import contextlib
import random
import re
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request

from stripesim.errors import StripeError, invalid
from stripesim.state import Answer, Fingerprint, Knobs, State
from stripesim.webhooks import Sender

API_VERSION = "2026-10-28.endive"  # what the `stripe` library this service pins sends
SEARCH_QUERY = re.compile(r"^metadata\['(?P<field>[A-Za-z0-9_]+)'\]:'(?P<value>[^']*)'$")


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into objects: `metadata[k]=v` -> {"metadata": {"k": v}},
    `payment_method_types[0]=card` -> {"payment_method_types": ["card"]}."""
    parsed: dict[str, Any] = {}
    for key, value in pairs:
        if "[" not in key:
            parsed[key] = value
            continue
        base, inner = key.split("[", 1)
        inner = inner.rstrip("]")
        if inner.isdigit():
            parsed.setdefault(base, []).append(value)
        else:
            parsed.setdefault(base, {})[inner] = value
    return parsed


def create_app(
    state: State | None = None, seed: int | None = None, sender: Sender | None = None
) -> Flask:
    """The simulator's WSGI app over `state` (a fresh one by default); `sender` delivers its
    webhook events (none without one)."""
    app = Flask("stripesim")
    sim = state or State()
    if sender is not None:
        sim.notify = sender.send
        app.extensions["stripesim.webhooks"] = sender
    app.extensions["stripesim"] = sim
    rng = random.Random(seed)

    def error_response(err: StripeError) -> Response:
        response = jsonify(error_body(err))
        response.status_code = err.status
        response.headers.update(err.headers)
        return response

    @app.errorhandler(StripeError)
    def _stripe_error(err: StripeError) -> Response:
        return error_response(err)

    @app.before_request
    def _authenticate() -> Response | None:
        if not request.path.startswith("/v1/"):
            return None
        auth = request.headers.get("Authorization", "")
        key = auth.removeprefix("Bearer ").strip()
        if not auth.startswith("Bearer ") or not key.startswith(("sk_test_", "rk_test_")):
            return error_response(
                StripeError(
                    401,
                    {
                        "type": "invalid_request_error",
                        "message": "Invalid API Key provided: a test-mode key (sk_test_...) is"
                        " expected.",
                    },
                )
            )
        if sim.knobs.latency_ms:
            time.sleep(sim.knobs.latency_ms / 1000)
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Request-Id"] = f"req_{secrets.token_hex(7)}"
        response.headers["Stripe-Version"] = request.headers.get("Stripe-Version", API_VERSION)
        if key := request.headers.get("Idempotency-Key"):
            response.headers["Idempotency-Key"] = key
        return response

    def transient() -> str | None:
        """None, or how this call fails: 'before' (a 500, nothing done) or 'lost' (done, then
        the connection dropped before the answer)."""
        if rng.random() >= sim.knobs.transient_failure_rate:
            return None
        return "before" if rng.random() < 0.5 else "lost"

    def idempotent(make: Callable[[dict[str, Any], str | None], dict[str, Any]]) -> Response:
        """Run a create once per Idempotency-Key: same key and parameters, the first answer
        again (`Idempotent-Replayed: true`); same key, other parameters, a 400."""
        pairs = sorted(request.form.items(multi=True))
        key = request.headers.get("Idempotency-Key")
        failure = transient()
        if failure == "before":
            raise StripeError(
                500,
                {"type": "api_error", "message": "An unknown error occurred (simulated)."},
                {"Stripe-Should-Retry": "true"},
            )
        fingerprint: Fingerprint = (request.method, request.path, tuple(pairs))
        if key:
            saved = sim.begin(key, fingerprint)
            if saved is not None:
                response = jsonify(saved.body)
                response.status_code = saved.status
                response.headers["Idempotent-Replayed"] = "true"
                if failure == "lost":
                    drop_connection()
                return response
        try:
            status, body = 200, make(parse_form(pairs), key)
        except StripeError as err:
            saved_answer = None if err.status in (400, 404) else (err.status, error_body(err))
            if key:
                sim.finish(key, Answer(fingerprint, *saved_answer) if saved_answer else None)
            raise
        if key:
            sim.finish(key, Answer(fingerprint, status, body))
        if failure == "lost":
            drop_connection()
        return jsonify(body)

    @app.post("/v1/payment_intents")
    def create_payment_intent() -> Response:
        return idempotent(sim.create_intent)

    @app.get("/v1/payment_intents/search")
    def search_payment_intents() -> Response:
        match = SEARCH_QUERY.match(request.args.get("query", ""))
        if match is None:
            raise invalid(
                "The simulator searches by one metadata field: metadata['key']:'value'.",
                "query",
            )
        found = sim.search_intents(match["field"], match["value"])
        return jsonify(
            {
                "object": "search_result",
                "data": found,
                "has_more": False,
                "next_page": None,
                "url": "/v1/payment_intents/search",
            }
        )

    @app.get("/v1/payment_intents/<intent_id>")
    def retrieve_payment_intent(intent_id: str) -> Response:
        return jsonify(sim.intent(intent_id))

    @app.post("/v1/payment_intents/<intent_id>/cancel")
    def cancel_payment_intent(intent_id: str) -> Response:
        return jsonify(sim.cancel_intent(intent_id))

    @app.post("/v1/refunds")
    def create_refund() -> Response:
        return idempotent(sim.create_refund)

    @app.get("/v1/refunds/<refund_id>")
    def retrieve_refund(refund_id: str) -> Response:
        return jsonify(sim.refund(refund_id))

    # test controls (not Stripe's)
    @app.get("/_simulator/health")
    def health() -> Response:
        return jsonify({"status": "ok", "knobs": sim.knobs.__dict__})

    @app.get("/_simulator/counts")
    def counts() -> Response:
        return jsonify(sim.counts())

    @app.post("/_simulator/knobs")
    def knobs() -> Response:
        given = request.get_json(force=True)
        known = Knobs().__dict__
        unknown = set(given) - set(known)
        if unknown:
            raise invalid(f"unknown knobs: {', '.join(sorted(unknown))}")
        for name, value in given.items():
            setattr(sim.knobs, name, type(known[name])(value))
        return jsonify(sim.knobs.__dict__)

    @app.post("/_simulator/payment_intents/<intent_id>/authenticate")
    def authenticate(intent_id: str) -> Response:
        given = request.get_json(force=True) or {}
        result = given.get("result", "succeeded")
        if result not in ("succeeded", "failed"):
            raise invalid("result is succeeded or failed", "result")
        late = bool(given.get("late", False))
        return jsonify(sim.authenticate(intent_id, result == "succeeded", late))

    @app.get("/_simulator/refunds")
    def refunds_of() -> Response:
        intent_id = request.args.get("payment_intent", "")
        return jsonify({"data": sim.refunds_of(intent_id)})

    @app.post("/_simulator/refunds/finish")
    def finish_refunds() -> Response:
        status = (request.get_json(force=True) or {}).get("status", "succeeded")
        if status not in ("succeeded", "failed"):
            raise invalid("status is succeeded or failed", "status")
        return jsonify({"finished": sim.finish_pending_refunds(status)})

    return app


def error_body(err: StripeError) -> dict[str, Any]:
    """Stripe's error envelope."""
    return {"error": {**err.error, "request_log_url": None}}


def drop_connection() -> None:
    """Close the client's connection without an answer: a charge made, its answer lost."""
    environ = request.environ
    connection = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
