"""SQL for the outbox table: write, claim in order, mark published, report, replay, purge."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Delete,
    Select,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from payments.db.tables import outbox
from payments.messages import OutboxMessage


class SqlOutbox:
    """The outbox table on a connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def write(self, messages: Iterable[OutboxMessage]) -> None:
        """Insert messages into the outbox (same transaction as the state change)."""
        rows = [
            {
                "event_id": m.message_id,
                "topic": m.topic,
                "event_type": m.message_type,
                "message_key": m.key,
                "payload": m.payload,
                "occurred_at": m.occurred_at,
            }
            for m in messages
        ]
        if rows:
            self.conn.execute(insert(outbox), rows)

    def claim(self, limit: int) -> list[tuple[int, OutboxMessage]]:
        """Lock up to `limit` unpublished rows, oldest first, skipping rows other relays hold.

        A row is only claimed when no earlier unpublished row of the same key exists, so that
        several relays never publish one payment's events out of order.
        """
        return [_message(r) for r in self.conn.execute(_claim_query(limit))]

    def mark_published(self, ids: Sequence[int]) -> None:
        """Mark rows published (only after the broker acknowledged them)."""
        if ids:
            self.conn.execute(_MARK_PUBLISHED, {"b_ids": list(ids)})

    def clock(self) -> datetime:
        """PostgreSQL's clock now (the one `published_at` is written with)."""
        return self.conn.execute(select(func.clock_timestamp())).scalar_one()

    def backlog(self) -> list[tuple[str, int, datetime | None]]:
        """Per topic: unpublished count and the time of the oldest unpublished event."""
        query = (
            select(outbox.c.topic, func.count(), func.min(outbox.c.occurred_at))
            .where(outbox.c.published_at.is_(None))
            .group_by(outbox.c.topic)
            .order_by(outbox.c.topic)
        )
        return [(t, n, oldest) for t, n, oldest in self.conn.execute(query)]

    def published(
        self,
        payment_id: str | None = None,
        since: datetime | None = None,
        topic: str | None = None,
    ) -> list[tuple[int, OutboxMessage]]:
        """Already-published messages matching the filters, in outbox order (for replay)."""
        query = select(outbox).where(outbox.c.published_at.is_not(None)).order_by(outbox.c.id)
        if payment_id is not None:
            query = query.where(outbox.c.message_key == payment_id)
        if since is not None:
            query = query.where(outbox.c.occurred_at >= since)
        if topic is not None:
            query = query.where(outbox.c.topic == topic)
        return [_message(r) for r in self.conn.execute(query)]

    def count_purgeable(self, older_than_s: float) -> int:
        """How many published rows are older than `older_than_s` (for an operator's progress
        bar: it reads the whole table, so the relay's continuous purge never calls it)."""
        query = select(func.count()).where(
            outbox.c.published_at.is_not(None), outbox.c.published_at < _older_than(older_than_s)
        )
        return int(self.conn.execute(query).scalar_one())

    def purge_published(self, older_than_s: float, batch: int = 500) -> int:
        """Delete up to `batch` published rows older than `older_than_s`, the oldest first; how
        many went.

        Chosen by `published_at` on its partial index (`outbox_published_idx`), so a batch costs
        the same with ten rows kept or ten million, and no recent or unpublished row, whatever
        its id, stands in the way. The rows it deletes are published ones, which neither the
        relay (it claims unpublished rows) nor the API (it inserts) ever waits on; one locked
        meanwhile (`flask outbox replay` re-publishing it) is skipped, never waited for.
        """
        result = self.conn.execute(purge_statement(older_than_s, batch))
        return int(result.rowcount or 0)


def _message(row: Any) -> tuple[int, OutboxMessage]:
    m = row._mapping
    return m["id"], OutboxMessage(
        m["event_id"], m["topic"], m["event_type"], m["message_key"], m["payload"], m["occurred_at"]
    )


@functools.cache
def _claim_query(limit: int) -> Select[Any]:
    """The claim statement for one batch size, built once (see `claim`).

    A row is claimable when it is the first unpublished row of its key, asked as a scalar
    subquery (one probe of the partial (message_key, id) index per candidate) rather than
    as NOT EXISTS. The planner turns NOT EXISTS into an anti-join whose plan follows the
    statistics, and statistics taken while nothing waited (the usual case) made it compare
    every candidate with every unpublished row: 820 ms per batch of 500 over a backlog of
    10,000 beside 400,000 retained rows, against 13 ms for this form (1.7 ms once analysed).
    A scalar subquery is never flattened, so at worst it costs the batch size per candidate.
    """
    earlier = aliased(outbox)
    first_of_key = (
        select(earlier.c.id)
        .where(earlier.c.message_key == outbox.c.message_key, earlier.c.published_at.is_(None))
        .order_by(earlier.c.message_key, earlier.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(outbox)
        .where(outbox.c.published_at.is_(None), outbox.c.id == first_of_key)
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


# One array parameter rather than an IN list of up to a batch of them: the statement is built
# once and sent with a single parameter. `clock_timestamp()`, not `now()` (the start of the
# claiming transaction): a row is marked at a time after Kafka acknowledged it, which is what
# self-healing's delivery horizon (`payments.horizon`) relies on.
_MARK_PUBLISHED = (
    update(outbox)
    .where(outbox.c.id == any_(bindparam("b_ids", type_=ARRAY(BigInteger))))
    .values(published_at=func.clock_timestamp(), attempts=outbox.c.attempts + 1)
)


def in_flight(key: Any, delivered_before: datetime | None) -> Any:
    """Whether an event keyed `key` may still be on its way to Redis: its outbox row not yet
    published, or published at or after `delivered_before` (the delivery horizon,
    `payments.horizon`; None: only unpublished rows count). One probe of `outbox_key_idx`."""
    on_its_way: Any = outbox.c.published_at.is_(None)
    if delivered_before is not None:
        on_its_way = or_(on_its_way, outbox.c.published_at >= delivered_before)
    return exists().where(outbox.c.message_key == key, on_its_way)


def _older_than(seconds: float) -> Any:
    return func.now() - func.make_interval(0, 0, 0, 0, 0, 0, float(seconds))


def purge_statement(older_than_s: float, batch: int) -> Delete:
    """The DELETE of one retention batch (see `purge_published`)."""
    cutoff = _older_than(older_than_s)
    oldest = (
        select(outbox.c.id)
        .where(outbox.c.published_at.is_not(None), outbox.c.published_at < cutoff)
        .order_by(outbox.c.published_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return delete(outbox).where(outbox.c.id.in_(oldest.scalar_subquery()))
