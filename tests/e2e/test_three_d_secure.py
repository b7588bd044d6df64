"""3-D Secure and the gateway's webhooks on the real processes (contract section 12, issue
29): the fan's part is played through the simulator's test controls; every outcome arrives
by a signed webhook to the API, or by the expiry sweep."""

from __future__ import annotations

from typing import Any

import requests

from tests.e2e.conftest import ACTION_TIMEOUT_S
from tests.support.factories import payment_body
from tests.support.procs import wait_until
from tests.support.smtp import parts


def post(stack: Any, **changes: Any) -> dict[str, Any]:
    body = payment_body(payment_token="pm_card_authenticationRequired", **changes)
    answer = requests.post(
        f"{stack.base_url}/payments", json=body, headers=stack.keys.front(), timeout=10
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def read(stack: Any, payment_id: str) -> dict[str, Any]:
    answer = requests.get(
        f"{stack.base_url}/payments/{payment_id}", headers=stack.keys.front(), timeout=5
    )
    return dict(answer.json())


def awaiting(stack: Any, payment_id: str) -> dict[str, Any]:
    """The payment once its charge waits for the cardholder (next_action shown)."""
    return dict(
        wait_until(
            lambda: (body := read(stack, payment_id))["next_action"] and body,
            timeout=30,
            message="no next_action",
        )
    )


def settled(stack: Any, payment_id: str, timeout: float = 60) -> dict[str, Any]:
    return dict(
        wait_until(
            lambda: (body := read(stack, payment_id))["status"] != "PENDING" and body,
            timeout=timeout,
            message=f"{payment_id} stayed PENDING",
        )
    )


def test_3d_secure_completed_succeeds_by_webhook_with_one_email(stack: Any) -> None:
    made = post(stack, user_language="pt-BR")
    waiting = awaiting(stack, made["id"])
    assert waiting["status"] == "PENDING"
    action = waiting["next_action"]
    reference = waiting["transaction"]["gateway_reference"]
    assert action["type"] == "use_stripe_sdk" and action["client_secret"].startswith(reference)
    assert stack.gateway.authenticate(reference).status_code == 200
    final = settled(stack, made["id"])
    assert final["status"] == "SUCCESS" and final["next_action"] is None
    [mail] = stack.smtp.wait_for(made["user_email"])
    assert mail["Subject"].startswith("Pagamento aprovado")
    assert stack.gateway.counts()["charges_by_payment"][made["id"]] == 1


def test_3d_secure_abandoned_expires_and_fails_with_one_email(stack: Any) -> None:
    made = post(stack, user_language="es")
    reference = awaiting(stack, made["id"])["transaction"]["gateway_reference"]
    final = settled(stack, made["id"], timeout=ACTION_TIMEOUT_S + 45)
    assert final["status"] == "FAILED"
    assert final["transaction"]["reason"] == "authentication_failed"
    assert stack.gateway.intent(reference)["status"] == "canceled"  # nothing can charge now
    [mail] = stack.smtp.wait_for(made["user_email"])
    text, _html = parts(mail)
    assert mail["Subject"].startswith("Pago no aprobado")
    assert "no se confirmó con tu banco a tiempo" in text
    assert made["id"] not in stack.gateway.counts()["charges_by_payment"]


def test_3d_secure_completed_after_expiry_is_refunded_automatically(stack: Any) -> None:
    made = post(stack, user_language="en")
    reference = awaiting(stack, made["id"])["transaction"]["gateway_reference"]
    final = settled(stack, made["id"], timeout=ACTION_TIMEOUT_S + 45)
    assert final["transaction"]["reason"] == "authentication_failed"
    assert stack.gateway.authenticate(reference, late=True).status_code == 200  # charged now

    charged = stack.gateway.intent(reference)["amount_received"]
    assert charged > 0

    def refunded() -> bool:
        return _refunds_of(stack, reference) == [charged]  # one refund, of the whole charge

    assert wait_until(refunded, timeout=60, message="the stray charge was not refunded")
    assert read(stack, made["id"])["status"] == "FAILED"  # the fan got no ticket, and no charge
    [mail] = stack.smtp.wait_for(made["user_email"])  # the one e-mail: not approved
    assert "not approved" in mail["Subject"].lower()


def _refunds_of(stack: Any, reference: str) -> list[int]:
    """The amounts (minor units) of the succeeded refunds of one PaymentIntent."""
    answer = requests.get(
        f"{stack.gateway.url}/_simulator/refunds", params={"payment_intent": reference}, timeout=5
    )
    answer.raise_for_status()
    return [r["amount"] for r in answer.json()["data"] if r["status"] == "succeeded"]


def test_a_pending_refund_finishes_by_webhook_with_one_email(stack: Any) -> None:
    body = payment_body(payment_token="pm_card_visa", user_language="pt-BR")
    made = requests.post(
        f"{stack.base_url}/payments", json=body, headers=stack.keys.front(), timeout=10
    ).json()
    assert settled(stack, made["id"])["status"] == "SUCCESS"
    stack.gateway.knobs(refunds_pending=True)
    try:
        asked = requests.post(
            f"{stack.base_url}/payments/{made['id']}/refunds",
            json={"amount": "25.50"},
            headers=stack.keys.back(),
            timeout=10,
        )
        assert asked.status_code == 201, asked.text
        refund_id = asked.json()["id"]

        def at_gateway() -> bool:
            return refund_id in stack.gateway.counts()["refunds_by_idempotency_key"]

        wait_until(at_gateway, timeout=30, message="the refund never reached the gateway")
        refund = requests.get(
            f"{stack.base_url}/refunds/{refund_id}", headers=stack.keys.back(), timeout=5
        ).json()
        assert refund["status"] == "PENDING"  # taken by the gateway, not finished
    finally:
        stack.gateway.knobs(refunds_pending=False)
    assert stack.gateway.finish_refunds("succeeded") >= 1  # the webhook follows at once

    def finished() -> dict[str, Any] | None:
        refund = requests.get(
            f"{stack.base_url}/refunds/{refund_id}", headers=stack.keys.back(), timeout=5
        ).json()
        return refund if refund["status"] != "PENDING" else None

    # The worker reads a pending refund again only after minutes: within these seconds only
    # the webhook can have finished it.
    assert wait_until(finished, timeout=30, message="no webhook finished the refund")["status"] == (
        "SUCCEEDED"
    )
    mails = stack.smtp.wait_for(made["user_email"], count=2)  # approved, then the refund's
    assert sum("Reembolso confirmado" in m["Subject"] for m in mails) == 1
    assert stack.gateway.counts()["refunds_by_idempotency_key"][refund_id] == 1
