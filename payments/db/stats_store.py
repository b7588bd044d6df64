"""The periodic queries of /metrics, at a cost that does not grow with the history kept.

Pending payments are counted on their partial index (only unfinished payments are in it);
finished ones are summed from the per-status counters a trigger keeps (`schema.sql`,
`payment_status_counts`), and refunds alike (`refunds_pending_idx`,
`refund_status_counts`); the outbox backlog reads the unpublished rows' partial index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, literal_column, select, text

from payments.db.outbox_store import SqlOutbox
from payments.db.tables import (
    event_cancellations,
    payment_status_counts,
    payments,
    refund_status_counts,
    refunds,
)

_PENDING: Any = literal_column("'PENDING'")  # a literal: matches the partial index's predicate


@dataclass(frozen=True)
class RefundCounts:
    """Refunds as /metrics reports them: finished ones by (status, reason, failure reason),
    how many are PENDING and when the oldest of those was requested; event cancellations
    whose payments are still being scanned for refunds, and when the oldest was accepted."""

    finished: dict[tuple[str, str, str], int]
    pending: int
    oldest_pending: datetime | None
    cancellations_scanning: int = 0
    oldest_cancellation: datetime | None = None


@dataclass(frozen=True)
class GatewayCounts:
    """3-D Secure authentications waiting (and the oldest), stray charges by outcome."""

    awaiting_action: int
    oldest_action: datetime | None
    strays: dict[str, int]


@dataclass(frozen=True)
class Scrape:
    """What one /metrics scrape reads from PostgreSQL."""

    payments: dict[str, int]
    oldest_pending_move: datetime | None
    backlog: list[tuple[str, int, datetime | None]]
    refunds: RefundCounts
    gateway: GatewayCounts


class SqlStats:
    """The counts /metrics reads, on a connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def payment_counts(self) -> dict[str, int]:
        """Payments by status: {'PENDING': n, 'SUCCESS': n, 'FAILED': n} (missing ones are 0)."""
        pending = self.conn.execute(
            select(func.count()).select_from(payments).where(payments.c.status == _PENDING)
        ).scalar_one()
        finished = self.conn.execute(
            select(payment_status_counts.c.status, func.sum(payment_status_counts.c.n)).group_by(
                payment_status_counts.c.status
            )
        )
        counts = {status: int(n) for status, n in finished}
        return {"PENDING": int(pending), **counts}

    def oldest_pending_move(self) -> datetime | None:
        """When the longest-idle PENDING payment last moved (None when none is pending): the
        first entry of the pending partial index."""
        return self.conn.execute(
            select(func.min(payments.c.updated_at)).where(payments.c.status == _PENDING)
        ).scalar_one()

    def refund_counts(self) -> RefundCounts:
        """Finished refunds from the trigger's counters, pending ones from their partial index,
        cancellations still scanning from theirs (event_cancellations_scanning_idx)."""
        columns = (
            refund_status_counts.c.status,
            refund_status_counts.c.reason,
            refund_status_counts.c.failure_reason,
        )
        finished = self.conn.execute(
            select(*columns, func.sum(refund_status_counts.c.n)).group_by(*columns)
        )
        pending, oldest = self.conn.execute(
            select(func.count(), func.min(refunds.c.created_at)).where(refunds.c.status == _PENDING)
        ).one()
        scanning, oldest_cancellation = self.conn.execute(
            select(func.count(), func.min(event_cancellations.c.created_at)).where(
                event_cancellations.c.scanned_at.is_(None)
            )
        ).one()
        return RefundCounts(
            {(s, r, f): int(n) for s, r, f, n in finished},
            int(pending),
            oldest,
            int(scanning),
            oldest_cancellation,
        )

    def gateway_counts(self) -> GatewayCounts:
        """Read off the partial index of waiting transactions and the (small) stray table."""
        waiting, oldest = self.conn.execute(
            text(
                "SELECT count(*), min(updated_at) FROM transactions"
                " WHERE status = 'PENDING' AND gateway_reference IS NOT NULL"
            )
        ).one()
        strays = self.conn.execute(
            text("SELECT coalesce(outcome, 'pending'), count(*) FROM stray_charges GROUP BY 1")
        )
        return GatewayCounts(int(waiting), oldest, {o: int(n) for o, n in strays})

    def scrape(self, timeout_ms: int) -> Scrape:
        """Payment and refund counts, the longest-idle pending payment and the outbox backlog in
        one transaction, bounded by `timeout_ms`."""
        self.conn.execute(text(f"SET LOCAL statement_timeout = {int(timeout_ms)}"))
        return Scrape(
            self.payment_counts(),
            self.oldest_pending_move(),
            SqlOutbox(self.conn).backlog(),
            self.refund_counts(),
            self.gateway_counts(),
        )
