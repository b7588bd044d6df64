"""Contract section 12's outcome table, row by row, through the real processes and the
gateway simulator over HTTP; the simulator's own counts are the gateway's view (issue 28)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from payments.adapters.stripe_gateway import StripeGateway
from payments.config import SIMULATOR_API_KEY
from payments.domain.model import Reason, Status
from payments.domain.secret import PaymentToken
from payments.ports import Charge
from tests.support.factories import payment_body
from tests.support.procs import wait_until


def post(stack: Any, **changes: Any) -> dict[str, Any]:
    response = requests.post(
        f"{stack.base_url}/payments",
        json=payment_body(**changes),
        headers=stack.keys.front(),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def read(stack: Any, payment_id: str) -> dict[str, Any]:
    return dict(
        requests.get(
            f"{stack.base_url}/payments/{payment_id}", headers=stack.keys.front(), timeout=5
        ).json()
    )


def terminal(stack: Any, payment_id: str, timeout: float = 60) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body = read(stack, payment_id)
        return body if body["status"] != "PENDING" else None

    return dict(wait_until(done, timeout=timeout, message=f"{payment_id} stayed PENDING"))


@pytest.fixture
def flaky_gateway(stack: Any) -> Iterator[Any]:
    """The stack's simulator failing half its calls (a 500, or the answer lost after the
    work), put back afterwards."""
    stack.gateway.knobs(transient_failure_rate=0.5)
    try:
        yield stack.gateway
    finally:
        stack.gateway.knobs(transient_failure_rate=0)


def test_succeeded_is_success_with_the_payment_intent_as_reference(stack: Any) -> None:
    made = post(stack, payment_token="pm_card_visa")
    final = terminal(stack, made["id"])
    assert final["status"] == "SUCCESS"
    assert final["transaction"]["gateway_reference"].startswith("pi_")
    assert final["transaction"]["decline_code"] is None
    assert stack.gateway.counts()["charges_by_payment"][made["id"]] == 1


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card"),
        ("ODD12", "generic_decline"),  # section 4's rule, inside the simulator
    ],
)
def test_a_card_error_is_rejected_by_gateway_with_the_decline_code(
    stack: Any, token: str, decline_code: str
) -> None:
    made = post(stack, payment_token=token)
    final = terminal(stack, made["id"])
    assert (final["status"], final["transaction"]["reason"]) == ("FAILED", "rejected_by_gateway")
    assert final["transaction"]["decline_code"] == decline_code
    assert final["transaction"]["gateway_reference"].startswith("pi_")
    assert made["id"] not in stack.gateway.counts()["charges_by_payment"]


def test_an_invalid_request_about_the_payment_is_invalid_payment_data(stack: Any) -> None:
    # The API refuses what the gateway would call invalid (an amount of 0, no token), so
    # the row is checked at the adapter, over HTTP to the stack's simulator.
    gateway = StripeGateway(SIMULATOR_API_KEY, stack.gateway.url, timeout_s=5)
    charge = Charge(
        uuid.uuid4(), uuid.uuid4(), PaymentToken("pm_card_visa"), Decimal(0), "USD",
        datetime.now(UTC),
    )  # fmt: skip
    decision = gateway.charge(charge)
    assert (decision.status, decision.reason) == (Status.FAILED, Reason.INVALID_PAYMENT_DATA)


def test_requires_action_stays_pending(stack: Any) -> None:
    made = post(stack, payment_token="pm_card_authenticationRequired")

    def waiting() -> dict[str, Any] | None:
        body = read(stack, made["id"])
        tx = body.get("transaction") or {}
        return body if tx.get("gateway_reference") else None

    body = wait_until(waiting, timeout=30, message="the PaymentIntent was never recorded")
    time.sleep(1)
    assert read(stack, made["id"])["status"] == "PENDING"
    assert body["transaction"]["status"] == "PENDING"


def test_unknown_outcomes_never_fail_a_charge_that_stands(stack: Any, flaky_gateway: Any) -> None:
    made = [post(stack, payment_token="pm_card_visa") for _ in range(30)]
    finals = [terminal(stack, m["id"], timeout=120) for m in made]
    charged = flaky_gateway.counts()["charges_by_payment"]
    for final in finals:
        count = charged.get(final["id"], 0)
        assert count <= 1, f"{final['id']} charged {count} times"
        if count == 1:  # a charge stands: the payment must say so
            assert final["status"] == "SUCCESS", final
        else:
            assert final["transaction"]["reason"] == "gateway_unavailable", final
    assert sum(1 for f in finals if f["status"] == "SUCCESS") >= 25
