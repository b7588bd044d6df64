"""Where a payment's time goes, hop by hop, from the timestamps the pipeline stores.

For each event: `occurred_at` (the state change's commit, by its writer) and `published_at`
(the relay's claim of the row). Hops: the relay's pick-up (claim - commit), claim -> next
commit (publish and ack, mark, bridge poll, Dramatiq enqueue and fetch, the actor's
transaction), and within the charge, the transaction's opening -> the settle.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from bench.stats import summary_ms

EVENTS = {
    "pc": "event_type = 'payment.created'",
    "tc": "event_type = 'transaction.created'",
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
HOPS = (  # the two-hop flow (contract section 5)
    ("API commit -> relay claims payment.created", "pc_o", "pc_p"),
    ("claim -> charge_payment opened the transaction", "pc_p", "tc_o"),
    ("opened -> charge_payment settled (the gateway call)", "tc_o", "pd_o"),
    ("commit -> relay claims payment.succeeded", "pd_o", "pd_p"),
    ("claim -> send_payment_email started", "pd_p", "sent"),
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


STRAGGLERS = text(
    """
SELECT p.status AS payment,
       coalesce(t.status, 'none') AS transaction,
       (SELECT count(*) FROM sent_emails e WHERE e.payment_id = p.id) AS emails,
       (SELECT count(*) FROM outbox o
         WHERE o.message_key = p.id::text AND o.published_at IS NULL) AS unpublished,
       count(*) AS payments
FROM payments p LEFT JOIN transactions t ON t.payment_id = p.id
WHERE p.user_email = ANY(:emails)
GROUP BY 1, 2, 3, 4
"""
)


def stragglers(engine: Engine, emails: list[str]) -> list[dict[str, Any]]:
    """Where the payments that sent no e-mail in time stand (status, e-mails, unpublished)."""
    if not emails:
        return []
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(STRAGGLERS, {"emails": emails})]
