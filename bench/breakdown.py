"""Where a payment's time goes, hop by hop, from the timestamps the pipeline stores.

For each event: `occurred_at` (the state change's commit, by its writer) and `published_at`
(the relay's claim of the row). Hops: relay pick-up (claim - commit) and "Kafka -> actor"
(the next state change's commit - the previous event's claim: publish and ack, bridge poll,
Dramatiq enqueue and fetch, the actor's transaction).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from bench.stats import summary_ms

EVENTS = {
    "pc": "event_type = 'payment.created'",
    "tc": "event_type = 'transaction.created'",
    "td": "event_type IN ('transaction.succeeded', 'transaction.failed')",
    "pd": "event_type IN ('payment.succeeded', 'payment.failed')",
}
COLUMNS = ",\n".join(
    f"extract(epoch FROM max(o.{col}) FILTER (WHERE {cond})) AS {key}_{col[0]}"
    for key, cond in EVENTS.items()
    for col in ("occurred_at", "published_at")
)
QUERY = f"""
SELECT extract(epoch FROM p.created_at) AS created,
       {COLUMNS},
       extract(epoch FROM max(e.sent_at)) AS sent
FROM payments p
JOIN outbox o ON o.message_key = p.id::text
LEFT JOIN sent_emails e ON e.payment_id = p.id
WHERE p.user_email LIKE :pattern
GROUP BY p.id, p.created_at
"""  # noqa: S608 - built from the constants above, never from input
HOPS = (
    ("relay pick-up: payment.created", "pc_o", "pc_p"),
    ("Kafka -> create_transaction commit", "pc_p", "tc_o"),
    ("relay pick-up: transaction.created", "tc_o", "tc_p"),
    ("Kafka -> process_transaction commit", "tc_p", "td_o"),
    ("relay pick-up: transaction done", "td_o", "td_p"),
    ("Kafka -> settle_payment commit", "td_p", "pd_o"),
    ("relay pick-up: payment done", "pd_o", "pd_p"),
    ("Kafka -> send_payment_email start", "pd_p", "sent"),
)


def hops(engine: Engine, email_pattern: str) -> list[dict[str, Any]]:
    """Per hop, latency percentiles over the payments whose e-mail matches the pattern."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(QUERY), {"pattern": email_pattern})]
    result = []
    for name, start, end in HOPS:
        values = [
            float(r[end]) - float(r[start])
            for r in rows
            if r[start] is not None and r[end] is not None
        ]
        result.append({"hop": name, "count": len(values), **summary_ms(values)})
    return result
