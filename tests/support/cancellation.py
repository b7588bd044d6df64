"""A sold-out event's paid payments, seeded in one statement, and what its cancellation did
(the fault scenarios of refunds)."""

from __future__ import annotations

import time
import uuid

import requests
from sqlalchemy import text

from tests.support.faults import Stage


def seed_paid(stage: Stage, event_id: str, count: int) -> None:
    """`count` payments of the event, already SUCCESS and e-mailed (as a sold-out show)."""
    with stage.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payments (id, status, user_name, user_email, user_language, "
                "event_id, event_name, amount, currency, emailed_at) "
                "SELECT gen_random_uuid(), 'SUCCESS', 'Fan ' || n, "
                "'fan-' || n || '-' || :tag || '@example.com', "
                "(ARRAY['en', 'pt_BR', 'es_MX'])[1 + n % 3], :event, 'Sold out show', "
                "10.00 + (n % 50), 'USD', now() FROM generate_series(1, :count) AS n"
            ),
            {"event": event_id, "count": count, "tag": event_id[-8:]},
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
