"""Refunds and event cancellation through the API, on real PostgreSQL (contract section 9)."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, text

from payments import refunds, services
from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from payments.domain.gateway_rule import TransientGatewayError
from payments.domain.refund import RefundStatus
from tests.support.factories import payment_body


@pytest.fixture
def paying(settings: Settings, engine: Engine) -> Container:
    return bootstrap(settings, engine=engine, gateway=FakeGateway(), mailer=FakeMailer())


@pytest.fixture
def api(paying: Container) -> Flask:
    from web import create_app

    return create_app({"TESTING": True, "CONTAINER": paying})


def paid(api: Flask, paying: Container, **changes: Any) -> dict[str, Any]:
    """A payment taken to its end through the use cases (even token: SUCCESS)."""
    created = api.test_client().post("/payments", json=payment_body(**changes)).get_json()
    services.charge_payment(paying.uow(), paying.gateway, uuid.UUID(created["id"]))
    return created


def test_a_partial_refund_then_the_rest(api: Flask, paying: Container) -> None:
    client = api.test_client()
    payment = paid(api, paying, event_amount="100.00", currency="BRL")
    first = client.post(f"/payments/{payment['id']}/refunds", json={"amount": "25.50"})
    assert first.status_code == 201
    refund = first.get_json()
    assert first.headers["Location"] == f"/refunds/{refund['id']}"
    assert (refund["amount"], refund["currency"], refund["status"]) == ("25.50", "BRL", "PENDING")
    assert refund["reason"] == "requested_by_customer" and refund["failure_reason"] is None

    rest = client.post(
        f"/payments/{payment['id']}/refunds", data="", content_type="application/json"
    )
    assert rest.status_code == 201 and rest.get_json()["amount"] == "74.50"
    more = client.post(f"/payments/{payment['id']}/refunds", json={"amount": "0.01"})
    assert more.status_code == 422 and more.get_json()["type"].endswith("amount-exceeds-refundable")
    assert more.get_json()["refundable"] == "0.00"

    assert refunds.refund_through_gateway(paying.uow(), paying.gateway, uuid.UUID(refund["id"]))
    shown = client.get(f"/payments/{payment['id']}").get_json()
    assert shown["status"] == "SUCCESS"  # a refunded payment stays SUCCESS
    assert shown["amount_refunded"] == "25.50"
    assert [r["status"] for r in shown["refunds"]] == ["SUCCEEDED", "PENDING"]
    assert client.get(f"/refunds/{refund['id']}").get_json()["status"] == "SUCCEEDED"


def test_twenty_concurrent_refunds_of_ten_on_a_hundred_accept_exactly_ten(
    api: Flask, paying: Container, engine: Engine
) -> None:
    payment = paid(api, paying, event_amount="100.00")
    start = threading.Barrier(20)
    codes: list[int] = []

    def ask() -> None:
        client = api.test_client()
        start.wait()
        response = client.post(f"/payments/{payment['id']}/refunds", json={"amount": "10.00"})
        codes.append(response.status_code)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes) == [201] * 10 + [422] * 10
    with engine.connect() as conn:
        total, reserved = conn.execute(
            text(
                "SELECT (SELECT sum(amount) FROM refunds WHERE payment_id = p.id), "
                "p.amount_reserved FROM payments p WHERE p.id = :p"
            ),
            {"p": payment["id"]},
        ).one()
    assert total == Decimal("100") and reserved == Decimal("100")


def test_the_database_refuses_over_refunding_whatever_the_code_does(
    api: Flask, paying: Container, engine: Engine
) -> None:
    payment = paid(api, paying, event_amount="10.00")
    with pytest.raises(Exception, match="payments_refunds_within_amount"), engine.begin() as conn:
        conn.execute(
            text("UPDATE payments SET amount_reserved = amount + 1 WHERE id = :p"),
            {"p": payment["id"]},
        )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "-1"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "1.001"}, "amount"),  # USD has two decimals
        ({"reason": "because"}, "reason"),
        ({"amout": "1.00"}, "amout"),
    ],
)
def test_bad_refund_bodies_name_the_field(
    api: Flask, paying: Container, body: dict[str, Any], field: str
) -> None:
    payment = paid(api, paying)
    response = api.test_client().post(f"/payments/{payment['id']}/refunds", json=body)
    assert response.status_code == 422
    assert [e["field"] for e in response.get_json()["errors"]] == [field]


def test_unknown_and_unfinished_payments(api: Flask) -> None:
    client = api.test_client()
    for pid in (str(uuid.uuid4()), "not-a-uuid"):
        assert client.post(f"/payments/{pid}/refunds", json={}).status_code == 404
    pending = client.post("/payments", json=payment_body()).get_json()
    response = client.post(f"/payments/{pending['id']}/refunds", json={})
    assert response.status_code == 409
    assert response.get_json()["type"].endswith("payment-not-refundable")
    assert client.get(f"/refunds/{uuid.uuid4()}").status_code == 404


def test_a_refund_with_an_idempotency_key_is_made_once(api: Flask, paying: Container) -> None:
    client = api.test_client()
    payment = paid(api, paying, event_amount="50.00")
    headers = {"Idempotency-Key": f"refund-{uuid.uuid4()}"}
    url = f"/payments/{payment['id']}/refunds"
    first = client.post(url, json={"amount": "5.00"}, headers=headers)
    again = client.post(url, json={"amount": "5.00"}, headers=headers)
    other = client.post(url, json={"amount": "6.00"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == f"/refunds/{first.get_json()['id']}"
    assert other.status_code == 422
    shown = client.get(f"/payments/{payment['id']}").get_json()
    assert len(shown["refunds"]) == 1


def test_a_refund_the_gateway_never_makes_fails_and_frees_its_amount(
    api: Flask, paying: Container, settings: Settings, engine: Engine
) -> None:
    payment = paid(api, paying, event_amount="30.00")
    client = api.test_client()
    refund = client.post(f"/payments/{payment['id']}/refunds", json={}).get_json()
    flaky = FakeGateway(transient_failures=1)
    with pytest.raises(TransientGatewayError):
        refunds.refund_through_gateway(paying.uow(), flaky, uuid.UUID(refund["id"]))
    assert refunds.give_up_refund(paying.uow(), uuid.UUID(refund["id"]))
    assert not refunds.give_up_refund(paying.uow(), uuid.UUID(refund["id"]))  # once
    failed = client.get(f"/refunds/{refund['id']}").get_json()
    assert (failed["status"], failed["failure_reason"]) == ("FAILED", "gateway_unavailable")
    again = client.post(f"/payments/{payment['id']}/refunds", json={})
    assert again.status_code == 201 and again.get_json()["amount"] == "30.00"
    with engine.connect() as conn:
        types = [
            r[0]
            for r in conn.execute(
                text("SELECT event_type FROM outbox WHERE message_key = :k ORDER BY id"),
                {"k": payment["id"]},
            )
        ]
    assert types[-3:] == ["refund.pending", "refund.failed", "refund.pending"]


def test_one_email_per_refund_outcome_in_the_payments_language(
    api: Flask, paying: Container
) -> None:
    payment = paid(api, paying, event_amount="12.34", currency="KWD", user_language="pt-BR")
    refund = api.test_client().post(f"/payments/{payment['id']}/refunds", json={}).get_json()
    rid = uuid.UUID(refund["id"])
    assert (
        refunds.refund_through_gateway(paying.uow(), paying.gateway, rid) is RefundStatus.SUCCEEDED
    )
    mailer = FakeMailer()
    assert refunds.notify_refund(paying.uow(), paying.refund_renderer, mailer, rid)
    assert refunds.notify_refund(paying.uow(), paying.refund_renderer, mailer, rid) is None
    [mail] = mailer.outbox
    assert mail.subject.startswith("Reembolso confirmado")
    assert "KWD\u00a012,340" in mail.text and payment["id"] in mail.text


def test_cancelling_an_event_refunds_each_paid_payment_once(api: Flask, paying: Container) -> None:
    client = api.test_client()
    event = f"evt-cancel-{uuid.uuid4().hex[:8]}"
    done = [paid(api, paying, event_id=event, event_amount="20.00") for _ in range(3)]
    partly = paid(api, paying, event_id=event, event_amount="20.00")
    by_hand = client.post(f"/payments/{partly['id']}/refunds", json={"amount": "5.00"}).get_json()
    pending = client.post("/payments", json=payment_body(event_id=event)).get_json()

    accepted = client.post(f"/events/{event}/cancellation", json={"reason": "storm"})
    assert accepted.status_code == 202
    assert accepted.headers["Location"] == f"/events/{event}/cancellation"
    assert client.post(f"/events/{event}/cancellation", json={}).status_code == 200
    refused = client.post("/payments", json=payment_body(event_id=event))
    assert refused.status_code == 409 and refused.get_json()["type"].endswith("event-cancelled")

    while not refunds.refund_cancellation_batch(paying.uow(), event, limit=2).finished:
        pass
    refunds.refund_cancellation_batch(paying.uow(), event)  # a duplicate delivery: no-op
    # succeeds after the cancellation: refunded too
    services.charge_payment(paying.uow(), paying.gateway, uuid.UUID(pending["id"]))

    progress = client.get(f"/events/{event}/cancellation").get_json()
    assert progress["payments"] == 5 and progress["refunds_pending"] == 5
    assert progress["status"] == "IN_PROGRESS" and progress["reason"] == "storm"
    for item in [*done, partly, pending]:
        shown = client.get(f"/payments/{item['id']}").get_json()
        cancelled = [r for r in shown["refunds"] if r["reason"] == "event_cancelled"]
        assert len(cancelled) == 1
        expected = "15.00" if item is partly else item["amount"]
        assert cancelled[0]["amount"] == expected
        refunds.refund_through_gateway(paying.uow(), paying.gateway, uuid.UUID(cancelled[0]["id"]))
    waiting = client.get(f"/events/{event}/cancellation").get_json()
    assert waiting["refunds_pending"] == 0 and waiting["refunds_succeeded"] == 5
    assert waiting["status"] == "IN_PROGRESS"  # the fan's own 5.00 is not back yet
    refunds.refund_through_gateway(paying.uow(), paying.gateway, uuid.UUID(by_hand["id"]))
    final = client.get(f"/events/{event}/cancellation").get_json()
    assert final["status"] == "COMPLETED" and final["refunds_succeeded"] == 5
    assert final["amount_refunded"] == {
        "USD": str(Decimal("125.50") + 3 * Decimal("20.00") + Decimal("15.00"))
    }
    assert client.get(f"/events/{uuid.uuid4()}/cancellation").status_code == 404


def test_a_refund_by_hand_cannot_take_the_cancellations_reason(
    api: Flask, paying: Container
) -> None:
    client = api.test_client()
    payment = paid(api, paying)
    for _ in range(2):  # the second one used to collide with the cancellation's unique index
        refused = client.post(
            f"/payments/{payment['id']}/refunds",
            json={"amount": "1.00", "reason": "event_cancelled"},
            headers={"Accept-Language": "pt-BR"},
        )
        assert refused.status_code == 409, refused.get_json()
        assert refused.content_type == "application/problem+json"
        problem = refused.get_json()
        assert problem["type"].endswith("refund-reason-reserved")
        assert problem["title"] == "Motivo de reembolso reservado"
    assert client.get(f"/payments/{payment['id']}").get_json()["refunds"] == []


def _legacy_refund(engine: Engine, payment_id: str, amount: str, reason: str) -> None:
    """A refund as the previous release let anyone make it: by hand, with any reason."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO refunds (id, payment_id, amount, currency, reason, status) "
                "VALUES (:id, :p, :a, 'USD', :r, 'SUCCEEDED')"
            ),
            {"id": uuid.uuid4(), "p": payment_id, "a": amount, "r": reason},
        )
        conn.execute(
            text("UPDATE payments SET amount_reserved = amount_reserved + :a WHERE id = :p"),
            {"a": amount, "p": payment_id},
        )


def test_a_cancellation_refunds_what_earlier_refunds_left_whatever_their_reason(
    api: Flask, paying: Container, engine: Engine
) -> None:
    client = api.test_client()
    event = f"evt-left-{uuid.uuid4().hex[:8]}"
    payments = {
        reason: paid(api, paying, event_id=event, event_amount="100.00")
        for reason in ("event_cancelled", "requested_by_customer", "duplicate")
    }
    for reason, payment in payments.items():  # 10.00 back before the event was cancelled
        _legacy_refund(engine, payment["id"], "10.00", reason)
    twice = paid(api, paying, event_id=event, event_amount="100.00")
    _legacy_refund(engine, twice["id"], "10.00", "event_cancelled")
    _legacy_refund(engine, twice["id"], "30.00", "requested_by_customer")

    assert client.post(f"/events/{event}/cancellation", json={}).status_code == 202
    while not refunds.refund_cancellation_batch(paying.uow(), event).finished:
        pass

    for payment, left in [*((p, "90.00") for p in payments.values()), (twice, "60.00")]:
        shown = client.get(f"/payments/{payment['id']}").get_json()
        made = [r for r in shown["refunds"] if r["status"] == "PENDING"]
        assert [(r["amount"], r["reason"]) for r in made] == [(left, "event_cancelled")]
        refunds.refund_through_gateway(paying.uow(), paying.gateway, uuid.UUID(made[0]["id"]))
        assert client.get(f"/payments/{payment['id']}").get_json()["amount_refunded"] == "100.00"
    final = client.get(f"/events/{event}/cancellation").get_json()
    assert final["status"] == "COMPLETED"
    assert (final["payments"], final["refunds_succeeded"]) == (4, 4)
    assert final["amount_refunded"] == {"USD": "330.00"}  # what the cancellation gave back


def test_an_event_id_no_payment_can_name_is_refused_by_name(api: Flask, engine: Engine) -> None:
    too_long = "e" * 65
    client = api.test_client()
    refused = client.post(
        f"/events/{too_long}/cancellation", json={}, headers={"Accept-Language": "es"}
    )
    assert refused.status_code == 422
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["errors"] == [
        {"field": "event_id", "message": "Debe tener de 1 a 64 caracteres."}
    ]
    assert refused.get_json()["detail"] == "El id del evento en la ruta no es válido."
    assert client.get(f"/events/{too_long}/cancellation").status_code == 404
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM event_cancellations WHERE event_id = :e"), {"e": too_long}
        ).scalar_one()
    assert stored == 0
