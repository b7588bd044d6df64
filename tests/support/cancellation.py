"""A sold-out event's paid payments, seeded in one statement, and what its cancellation did
(the fault scenarios of refunds)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import requests
from sqlalchemy import text

from payments.adapters.stripe_gateway import StripeGateway
from payments.config import SIMULATOR_API_KEY
from payments.domain.secret import PaymentToken
from payments.ports import Charge
from tests.support.faults import Stage


def seed_paid(stage: Stage, event_id: str, count: int) -> None:
    """`count` payments of the event, already SUCCESS and e-mailed (as a sold-out show), each
    charged at the stage's gateway simulator (so that it can refund them), written in one
    statement per table."""
    payments, transactions = [], []
    for n in range(1, count + 1):
        payment_id, tx_id = uuid.uuid4(), uuid.uuid4()
        payments.append(
            {
                "id": payment_id,
                "name": f"Fan {n}",
                "email": f"fan-{n}-{event_id[-8:]}@example.com",
                "language": ("en", "pt_BR", "es_MX")[n % 3],
                "event": event_id,
                "amount": Decimal(10 + n % 50),
            }
        )
        transactions.append({"id": tx_id, "payment_id": payment_id})
    references = charge_all(stage, payments, transactions)
    for tx, reference in zip(transactions, references, strict=True):
        tx["reference"] = reference
    with stage.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payments (id, status, user_name, user_email, user_language, "
                "event_id, event_name, amount, currency, emailed_at) VALUES (:id, 'SUCCESS', "
                ":name, :email, :language, :event, 'Sold out show', :amount, 'USD', now())"
            ),
            payments,
        )
        conn.execute(
            text(
                "INSERT INTO transactions (id, payment_id, status, gateway_reference) "
                "VALUES (:id, :payment_id, 'SUCCESS', :reference)"
            ),
            transactions,
        )


def charge_all(
    stage: Stage, payments: list[dict[str, Any]], transactions: list[dict[str, Any]]
) -> list[str]:
    """Charge each payment at the stage's simulator (its failures off meanwhile); the
    PaymentIntent ids, in order."""
    if not stage.gateway.alive():
        stage.gateway.start()
    before = stage.gateway.knobs()
    stage.gateway.knobs(transient_failure_rate=0, latency_ms=0)
    gateway = StripeGateway(SIMULATOR_API_KEY, stage.gateway.url, timeout_s=10)
    now = datetime.now(UTC)

    def charge(pair: tuple[dict[str, Any], dict[str, Any]]) -> str:
        payment, tx = pair
        token = PaymentToken("pm_card_visa")
        decision = gateway.charge(
            Charge(tx["id"], payment["id"], token, payment["amount"], "USD", now)
        )
        assert decision.reference is not None, decision
        return decision.reference

    try:
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(charge, zip(payments, transactions, strict=True)))
    finally:
        stage.gateway.knobs(
            transient_failure_rate=before["transient_failure_rate"],
            latency_ms=before["latency_ms"],
        )


def refund_counts(stage: Stage, event_id: str) -> dict[str, int]:
    """The event's payments by how many cancellation refunds they got, its refunds by status,
    and the refund e-mails recorded."""
    with stage.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1), "
                "count(*) FILTER (WHERE n = 0) FROM ("
                " SELECT p.id, count(r.id) AS n FROM payments p"
                " LEFT JOIN refunds r ON r.payment_id = p.id AND r.by_cancellation"
                " WHERE p.event_id = :e GROUP BY p.id) per_payment"
            ),
            {"e": event_id},
        ).one()
        states = dict(
            conn.execute(
                text(
                    "SELECT r.status, count(*) FROM refunds r JOIN payments p "
                    "ON p.id = r.payment_id WHERE p.event_id = :e GROUP BY r.status"
                ),
                {"e": event_id},
            ).all()
        )
        emailed = conn.execute(
            text(
                "SELECT count(*) FROM sent_refund_emails s JOIN refunds r ON r.id = s.refund_id "
                "JOIN payments p ON p.id = r.payment_id WHERE p.event_id = :e"
            ),
            {"e": event_id},
        ).scalar_one()
    return {
        "refunded_once": row[0],
        "refunded_twice": row[1],
        "not_refunded": row[2],
        "succeeded": states.get("SUCCEEDED", 0),
        "pending": states.get("PENDING", 0),
        "failed": states.get("FAILED", 0),
        "emails_recorded": emailed,
    }


def cancel_sold_out_event(stage: Stage, label: str, count: int) -> tuple[str, float]:
    """An event of `count` paid payments, the stage's processes started, and its
    cancellation accepted; the event id and when the processes started (monotonic)."""
    event = f"evt-{label}-{uuid.uuid4().hex[:8]}"
    seed_paid(stage, event, count)
    stage.start_all()
    started = time.monotonic()
    accepted = requests.post(
        f"{stage.base_url}/events/{event}/cancellation",
        json={"reason": "storm"},
        headers=stage.keys.back(),
        timeout=10,
    )
    assert accepted.status_code == 202, accepted.text
    return event, started
