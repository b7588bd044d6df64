"""The exact requests `StripeGateway` sends, pinned to Stripe's API reference (issue 28):
with `GATEWAY=stripe` the same code charges Stripe, which cannot be reached from here.

A loopback HTTP server records each request and answers Stripe's JSON. What is pinned, from
https://docs.stripe.com/api (create/search/cancel a PaymentIntent, create a Refund,
idempotent requests, authentication):
- `POST /v1/payment_intents`, form-encoded: `amount` in minor units, `currency` lower case,
  `payment_method`, `payment_method_types[0]=card`, `confirm=true`, `metadata[payment_id]`,
  `metadata[transaction_id]`; headers `Authorization: Bearer <key>`, `Idempotency-Key`
  (the transaction id), `Stripe-Version`;
- `GET /v1/payment_intents/search?query=metadata['transaction_id']:'<id>'`;
- `POST /v1/payment_intents/<id>/cancel`;
- `POST /v1/refunds` with `payment_intent`, `amount`, `metadata[refund_id]` and the refund id
  as the `Idempotency-Key`.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from payments.adapters.stripe_gateway import StripeGateway
from payments.domain.gateway_rule import Decision, GatewayRefused, TransientGatewayError
from payments.domain.model import Reason, Status
from payments.domain.secret import PaymentToken
from payments.ports import Charge, RefundOrder, RefundOutcome

SECRET = "sk_test_51PinnedSecretKeyNeverLogged000000000000"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    form: list[tuple[str, str]]
    headers: dict[str, str]


@dataclass
class FakeStripe:
    """Records requests; answers the next queued (status, body, headers)."""

    seen: list[Seen] = field(default_factory=list)
    answers: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        body = request.get_data(as_text=True)
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.args),
                parse_qsl(body, keep_blank_values=True),
                {k.lower(): v for k, v in request.headers.items()},
            )
        )
        status, payload, headers = self.answers.pop(0)
        response = Response(json.dumps(payload), status, headers, content_type="application/json")
        return response(environ, start_response)


@pytest.fixture
def stripe_api() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()


def intent(status: str, **extra: Any) -> dict[str, Any]:
    return {"id": "pi_123", "object": "payment_intent", "status": status, **extra}


def a_charge(amount: str = "125.50", currency: str = "USD", age_s: float = 0) -> Charge:
    opened = datetime.now(UTC) - timedelta(seconds=age_s)
    return Charge(
        uuid.uuid4(), uuid.uuid4(), PaymentToken("pm_card_visa"), Decimal(amount), currency, opened
    )


def gateway(api: FakeStripe, lag_s: float = 0) -> StripeGateway:
    return StripeGateway(SECRET, api.url, timeout_s=5, search_lag=timedelta(seconds=lag_s))


def test_a_charge_is_one_confirmed_payment_intent_keyed_by_the_transaction(
    stripe_api: FakeStripe,
) -> None:
    stripe_api.answers.append((200, intent("succeeded"), {}))
    charge = a_charge()
    decision = gateway(stripe_api).charge(charge)
    assert decision == Decision(Status.SUCCESS, reference="pi_123")
    [sent] = stripe_api.seen
    assert (sent.method, sent.path) == ("POST", "/v1/payment_intents")
    assert sorted(sent.form) == sorted(
        [
            ("amount", "12550"),
            ("currency", "usd"),
            ("payment_method", "pm_card_visa"),
            ("payment_method_types[0]", "card"),
            ("confirm", "true"),
            ("metadata[payment_id]", str(charge.payment_id)),
            ("metadata[transaction_id]", str(charge.transaction_id)),
        ]
    )
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.headers["idempotency-key"] == str(charge.transaction_id)
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["stripe-version"]  # the API version the library is written for


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("5000", "JPY", "5000"), ("12.340", "KWD", "12340"), ("500", "ISK", "50000")],
)
def test_amounts_are_in_stripes_minor_units(
    stripe_api: FakeStripe, amount: str, currency: str, minor: str
) -> None:
    stripe_api.answers.append((200, intent("succeeded"), {}))
    gateway(stripe_api).charge(a_charge(amount, currency))
    form = dict(stripe_api.seen[0].form)
    assert (form["amount"], form["currency"]) == (minor, currency.lower())


def card_error(code: str, decline_code: str | None) -> dict[str, Any]:
    error = {"type": "card_error", "code": code, "decline_code": decline_code, "message": "no"}
    return {"error": {**error, "payment_intent": intent("requires_payment_method")}}


def test_a_card_error_is_rejected_by_gateway_with_its_decline_code(stripe_api: FakeStripe) -> None:
    stripe_api.answers.append((402, card_error("card_declined", "insufficient_funds"), {}))
    decision = gateway(stripe_api).charge(a_charge())
    assert decision == Decision(
        Status.FAILED, Reason.REJECTED_BY_GATEWAY, "pi_123", "insufficient_funds"
    )


def test_an_invalid_payment_method_is_invalid_payment_data(stripe_api: FakeStripe) -> None:
    error = {"type": "invalid_request_error", "code": "resource_missing", "param": "payment_method"}
    stripe_api.answers.append((400, {"error": error}, {}))
    decision = gateway(stripe_api).charge(a_charge())
    assert (decision.status, decision.reason) == (Status.FAILED, Reason.INVALID_PAYMENT_DATA)


def test_requires_action_keeps_the_payment_pending(stripe_api: FakeStripe) -> None:
    stripe_api.answers.append((200, intent("requires_action", client_secret="pi_123_secret_x"), {}))
    assert gateway(stripe_api).charge(a_charge()) == Decision(
        Status.PENDING, reference="pi_123", client_secret="pi_123_secret_x"
    )


@pytest.mark.parametrize("status", [429, 409, 500, 503])
def test_429_409_and_5xx_are_an_unknown_outcome(stripe_api: FakeStripe, status: int) -> None:
    stripe_api.answers.append((status, {"error": {"type": "api_error", "message": "x"}}, {}))
    with pytest.raises(TransientGatewayError) as raised:
        gateway(stripe_api).charge(a_charge())
    assert raised.value.retry and SECRET not in str(raised.value)


def test_stripe_should_retry_false_ends_the_retries(stripe_api: FakeStripe) -> None:
    error = {"error": {"type": "api_error", "message": "x"}}
    stripe_api.answers.append((500, error, {"Stripe-Should-Retry": "false"}))
    with pytest.raises(TransientGatewayError) as raised:
        gateway(stripe_api).charge(a_charge())
    assert raised.value.retry is False


def test_no_answer_is_an_unknown_outcome() -> None:
    nowhere = StripeGateway(SECRET, "http://127.0.0.1:9", timeout_s=1)  # nothing listens there
    with pytest.raises(TransientGatewayError):
        nowhere.charge(a_charge())


def test_a_bad_key_is_refused_and_the_key_is_never_logged_or_raised(
    stripe_api: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    error = {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}
    stripe_api.answers.append((401, error, {}))
    with pytest.raises(GatewayRefused) as raised:
        gateway(stripe_api).charge(a_charge())
    assert SECRET not in str(raised.value) and SECRET[-12:] not in str(raised.value)
    assert SECRET not in caplog.text and SECRET[-12:] not in caplog.text


def test_an_unknown_outcome_is_resolved_by_search_then_cancel(stripe_api: FakeStripe) -> None:
    charge = a_charge()
    stripe_api.answers.append(
        (200, {"object": "search_result", "data": [intent("requires_action")]}, {})
    )
    stripe_api.answers.append((200, intent("canceled"), {}))
    decision = gateway(stripe_api).resolve(charge)
    assert (decision.status, decision.reason) == (Status.FAILED, Reason.GATEWAY_UNAVAILABLE)
    search, cancel = stripe_api.seen
    assert (search.method, search.path) == ("GET", "/v1/payment_intents/search")
    assert search.query["query"] == f"metadata['transaction_id']:'{charge.transaction_id}'"
    assert (cancel.method, cancel.path) == ("POST", "/v1/payment_intents/pi_123/cancel")


def test_a_charge_found_by_search_is_recorded_not_failed(stripe_api: FakeStripe) -> None:
    stripe_api.answers.append((200, {"object": "search_result", "data": [intent("succeeded")]}, {}))
    assert gateway(stripe_api).resolve(a_charge()) == Decision(Status.SUCCESS, reference="pi_123")


def test_nothing_found_is_proof_only_after_the_search_lag(stripe_api: FakeStripe) -> None:
    empty = (200, {"object": "search_result", "data": []}, {})
    stripe_api.answers += [empty, empty]
    with pytest.raises(TransientGatewayError):  # too soon: Stripe's search may lag writes
        gateway(stripe_api, lag_s=60).resolve(a_charge(age_s=5))
    decision = gateway(stripe_api, lag_s=60).resolve(a_charge(age_s=61))
    assert decision.reason is Reason.GATEWAY_UNAVAILABLE


def test_a_refund_is_keyed_by_the_refund_id(stripe_api: FakeStripe) -> None:
    stripe_api.answers.append((200, {"id": "re_1", "object": "refund", "status": "succeeded"}, {}))
    order = RefundOrder(uuid.uuid4(), uuid.uuid4(), "pi_123", Decimal("25.50"), "USD")
    assert gateway(stripe_api).refund(order) is RefundOutcome.SUCCEEDED
    [sent] = stripe_api.seen
    assert (sent.method, sent.path) == ("POST", "/v1/refunds")
    assert sorted(sent.form) == sorted(
        [
            ("payment_intent", "pi_123"),
            ("amount", "2550"),
            ("metadata[refund_id]", str(order.refund_id)),
        ]
    )
    assert sent.headers["idempotency-key"] == str(order.refund_id)


def test_a_pending_refund_is_read_again_and_stays_pending(stripe_api: FakeStripe) -> None:
    stripe_api.answers.append((200, {"id": "re_1", "object": "refund", "status": "pending"}, {}))
    stripe_api.answers.append((200, {"id": "re_1", "object": "refund", "status": "pending"}, {}))
    order = RefundOrder(uuid.uuid4(), uuid.uuid4(), "pi_123", Decimal("1.00"), "USD")
    assert gateway(stripe_api).refund(order) is RefundOutcome.PENDING
    assert [(s.method, s.path) for s in stripe_api.seen][1] == ("GET", "/v1/refunds/re_1")
