"""The listing queries (`payments.listing`): one index range per page, newest first.

Each filter combination reads an index whose leading column is its equality filter and whose
tail is (created_at, id): `payments_listing_*` and `refunds_listing_*` in schema.sql. The
cursor row's created_at is looked up by its primary key, then the page is a range below (or
above) (created_at, id) in that index, `limit + 1` rows long.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Table, select, tuple_

from payments.db.refunds import refund_of
from payments.db.repository import _transaction, payment_of
from payments.db.tables import payments, refunds, transactions
from payments.domain.listing import PageRequest, PaymentFilter, RefundFilter
from payments.domain.model import Payment, Transaction
from payments.domain.refund import Refund
from payments.errors import UnknownCursor


class SqlListing:
    """The listing queries on a connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def _paged(self, table: Table, query: Any, page: PageRequest) -> list[Any]:
        """`query` limited to the page, in its direction (`limit + 1` rows): after
        `starting_after`, before `ending_before`, or between the two."""
        key = tuple_(table.c.created_at, table.c.id)
        if page.starting_after is not None:
            query = query.where(key < self._position(table, page.starting_after))
        if page.ending_before is not None:
            query = query.where(key > self._position(table, page.ending_before))
        if page.backwards:
            query = query.order_by(table.c.created_at.asc(), table.c.id.asc())
        else:
            query = query.order_by(table.c.created_at.desc(), table.c.id.desc())
        return list(self.conn.execute(query.limit(page.limit + 1)))

    def _position(self, table: Table, cursor: UUID) -> Any:
        """(created_at, id) of the cursor's row; UnknownCursor when there is none."""
        created = self.conn.execute(select(table.c.created_at).where(table.c.id == cursor)).scalar()
        if created is None:
            raise UnknownCursor(str(cursor))
        return tuple_(created, cursor)

    def payments_page(self, where: PaymentFilter, page: PageRequest) -> list[Payment]:
        query = select(payments)
        if where.event_id is not None:
            query = query.where(payments.c.event_id == where.event_id)
        if where.user_email is not None:
            query = query.where(payments.c.user_email == where.user_email)
        if where.status is not None:
            query = query.where(payments.c.status == where.status.value)
        if where.created_gte is not None:
            query = query.where(payments.c.created_at >= where.created_gte)
        if where.created_lt is not None:
            query = query.where(payments.c.created_at < where.created_lt)
        return [payment_of(r) for r in self._paged(payments, query, page)]

    def refunds_page(self, where: RefundFilter, page: PageRequest) -> list[Refund]:
        query = select(refunds)
        if where.payment_id is not None:
            query = query.where(refunds.c.payment_id == where.payment_id)
        if where.status is not None:
            query = query.where(refunds.c.status == where.status.value)
        if where.event_id is not None:
            # Through the event's payments (payments_event_idx): bounded by the event's size,
            # not by the history of every other event.
            of_event = select(payments.c.id).where(payments.c.event_id == where.event_id)
            query = query.where(refunds.c.payment_id.in_(of_event))
        return [refund_of(r) for r in self._paged(refunds, query, page)]

    def transactions_of(self, payment_ids: Sequence[UUID]) -> dict[UUID, Transaction]:
        if not payment_ids:
            return {}
        query = select(transactions).where(transactions.c.payment_id.in_(list(payment_ids)))
        return {t.payment_id: t for t in map(_transaction, self.conn.execute(query))}

    def refunds_of(self, payment_ids: Sequence[UUID]) -> dict[UUID, list[Refund]]:
        if not payment_ids:
            return {}
        query = (
            select(refunds)
            .where(refunds.c.payment_id.in_(list(payment_ids)))
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        found: dict[UUID, list[Refund]] = defaultdict(list)
        for refund in map(refund_of, self.conn.execute(query)):
            found[refund.payment_id].append(refund)
        return found
