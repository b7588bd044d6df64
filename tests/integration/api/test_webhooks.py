"""POST /webhooks/stripe on real PostgreSQL (contract section 12): the signature is checked,
each event is applied once, in any order, through the workers' use cases."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text

from payments import services, webhooks
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from payments.domain.gateway_rule import Decision
from payments.domain.model import Status
from payments.ports import Charge, RefundOrder, RefundOutcome
from stripesim.webhooks import envelope, signature_header
from tests.support.factories import payment_body

SECRET = "whsec_test_integration_secret"


class Authenticating(FakeGateway):
    """Every charge waits for 3-D Secure; refunds succeed and are recorded."""

    def charge(self, charge: Charge) -> Decision:
        self.calls.append(charge.transaction_id)
        return Decision(Status.PENDING, reference=f"pi_{charge.transaction_id.hex}",
                        client_secret=f"pi_{charge.transaction_id.hex}_secret_abc")  # fmt: skip

    def refund(self, order: RefundOrder) -> RefundOutcome:
        self.refunds.append(order.refund_id)
        return RefundOutcome.SUCCEEDED


@pytest.fixture
def paying(settings: Settings, engine: Engine) -> Container:
    keyed = replace(settings, stripe_webhook_secret=SECRET, api_keys=("k" * 32,))
    return bootstrap(keyed, engine=engine, gateway=Authenticating(), mailer=FakeMailer())


@pytest.fixture
def api(paying: Container) -> Flask:
    from web import create_app

    return create_app({"TESTING": True, "CONTAINER": paying})


def waiting(api: Flask, paying: Container) -> dict[str, Any]:
    """A payment whose charge waits for the cardholder: its resource."""
    auth = {"Authorization": "Bearer " + "k" * 32}
    created = api.test_client().post("/payments", json=payment_body(), headers=auth).get_json()
    assert services.charge_payment(paying.uow(), paying.gateway, uuid.UUID(created["id"])) is None
    return dict(api.test_client().get(f"/payments/{created['id']}", headers=auth).get_json())


def event_for(resource: dict[str, Any], kind: str, **fields: Any) -> dict[str, Any]:
    intent = {
        "id": resource["transaction"]["gateway_reference"],
        "object": "payment_intent",
        "status": "succeeded" if kind.endswith("succeeded") else "requires_payment_method",
        "metadata": {"payment_id": resource["id"], "transaction_id": resource["transaction"]["id"]},
        **fields,
    }
    return envelope(kind, intent, "2026-10-28.endive")


def deliver(api: Flask, event: dict[str, Any], secret: str = SECRET, **sign: Any) -> Any:
    payload = json.dumps(event)
    return api.test_client().post(
        "/webhooks/stripe",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": signature_header(payload, secret, **sign)},
    )


def status_of(engine: Engine, payment_id: str) -> tuple[str, str, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT p.status, t.status, t.action_secret FROM payments p"
                " JOIN transactions t ON t.payment_id = p.id WHERE p.id = :id"
            ),
            {"id": payment_id},
        ).one()
    return row[0], row[1], row[2]


def outbox_types(engine: Engine, payment_id: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_type FROM outbox WHERE message_key = :id ORDER BY id"),
            {"id": payment_id},
        )
        return [r[0] for r in rows]


def test_a_waiting_payment_shows_next_action_and_stays_pending(
    api: Flask, paying: Container
) -> None:
    resource = waiting(api, paying)
    assert resource["status"] == "PENDING" and resource["transaction"]["status"] == "PENDING"
    assert resource["next_action"] == {
        "type": "use_stripe_sdk",
        "client_secret": resource["transaction"]["gateway_reference"] + "_secret_abc",
    }


def test_a_succeeded_event_settles_the_payment_and_erases_the_secret(
    api: Flask, paying: Container, engine: Engine
) -> None:
    resource = waiting(api, paying)
    answer = deliver(api, event_for(resource, "payment_intent.succeeded"))
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "applied"
    assert status_of(engine, resource["id"]) == ("SUCCESS", "SUCCESS", None)
    assert outbox_types(engine, resource["id"])[-2:] == [
        "transaction.succeeded",
        "payment.succeeded",
    ]


def test_a_bad_signature_is_a_400_and_changes_nothing(
    api: Flask, paying: Container, engine: Engine
) -> None:
    resource = waiting(api, paying)
    event = event_for(resource, "payment_intent.succeeded")
    forged = deliver(api, event, secret="whsec_someone_else")
    assert forged.status_code == 400
    assert forged.get_json()["type"].endswith("/invalid-signature")
    assert forged.content_type == "application/problem+json"
    stale = deliver(api, event, timestamp=int(time.time()) - 301)  # older than 300 s
    assert stale.status_code == 400
    unsigned = api.test_client().post("/webhooks/stripe", json=event)
    assert unsigned.status_code == 400
    assert status_of(engine, resource["id"])[0] == "PENDING"  # nothing applied


def test_an_event_delivered_twice_is_applied_once(
    api: Flask, paying: Container, engine: Engine
) -> None:
    resource = waiting(api, paying)
    event = event_for(resource, "payment_intent.succeeded")
    first, second = deliver(api, event), deliver(api, event)
    assert (first.get_json()["outcome"], second.get_json()["outcome"]) == ("applied", "duplicate")
    assert outbox_types(engine, resource["id"]).count("payment.succeeded") == 1
    with engine.connect() as conn:
        seen = conn.execute(
            text("SELECT count(*) FROM gateway_events WHERE id = :id"), {"id": event["id"]}
        ).scalar_one()
    assert seen == 1


def test_a_failure_after_a_success_changes_nothing(
    api: Flask, paying: Container, engine: Engine
) -> None:
    resource = waiting(api, paying)
    deliver(api, event_for(resource, "payment_intent.succeeded"))
    late = event_for(
        resource,
        "payment_intent.payment_failed",
        last_payment_error={"code": "payment_intent_authentication_failure"},
    )
    assert deliver(api, late).get_json()["outcome"] == "ignored"
    assert status_of(engine, resource["id"])[:2] == ("SUCCESS", "SUCCESS")


def test_an_authentication_failure_fails_the_payment(
    api: Flask, paying: Container, engine: Engine
) -> None:
    resource = waiting(api, paying)
    failed = event_for(
        resource,
        "payment_intent.payment_failed",
        last_payment_error={"code": "payment_intent_authentication_failure"},
    )
    assert deliver(api, failed).get_json()["outcome"] == "applied"
    with engine.connect() as conn:
        reason = conn.execute(
            text("SELECT reason FROM transactions WHERE payment_id = :id"), {"id": resource["id"]}
        ).scalar_one()
    assert reason == "authentication_failed"


def test_a_success_after_expiry_is_a_stray_charge_refunded_once(
    api: Flask, paying: Container, engine: Engine
) -> None:
    resource = waiting(api, paying)
    expired = services.expire_action(paying.uow(), paying.gateway, uuid.UUID(resource["id"]))
    assert expired is not None and expired.status is Status.FAILED
    answer = deliver(api, event_for(resource, "payment_intent.succeeded"))
    assert answer.get_json()["outcome"] == "stray"
    reference = resource["transaction"]["gateway_reference"]
    assert webhooks.refund_stray(paying.uow(), paying.gateway, reference) == "succeeded"
    assert webhooks.refund_stray(paying.uow(), paying.gateway, reference) is None  # once
    assert paying.gateway.refunds == [webhooks.stray_refund_id(reference)]  # type: ignore[attr-defined]
    assert status_of(engine, resource["id"])[0] == "FAILED"


def test_events_of_other_types_and_other_services_get_200(api: Flask) -> None:
    other = envelope("customer.created", {"id": "cus_1", "object": "customer"}, "x")
    assert deliver(api, other).get_json()["outcome"] == "ignored"
    foreign = envelope(
        "payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent", "metadata": {}}, "x"
    )
    assert deliver(api, foreign).status_code == 200
