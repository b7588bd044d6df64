"""Listing payments and refunds a page at a time (Stripe's cursor pagination).

Newest first, by (created_at, id): a cursor is the id of the last item seen (`starting_after`,
the next page) or of the first (`ending_before`, the page before). A page reads `limit + 1`
rows from an index that matches its filters (schema.sql, "listing"), so it costs the same
with a million past payments as with none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from payments.db import listing_store
from payments.domain.model import Payment, Status, Transaction
from payments.domain.refund import Refund, RefundStatus
from payments.uow import SqlUnitOfWork

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageRequest:
    """Which page: at most `limit` items after one id, or before one (not both)."""

    limit: int = DEFAULT_LIMIT
    starting_after: UUID | None = None
    ending_before: UUID | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise ValueError(f"limit must be 1..{MAX_LIMIT}")
        if self.starting_after is not None and self.ending_before is not None:
            raise ValueError("starting_after and ending_before exclude each other")


@dataclass(frozen=True)
class Page(Generic[T]):
    """Items newest first, and whether more lie past the end the cursor moved to."""

    items: list[T]
    has_more: bool


@dataclass(frozen=True)
class PaymentFilter:
    event_id: str | None = None
    status: Status | None = None
    user_email: str | None = None
    created_gte: datetime | None = None
    created_lt: datetime | None = None


@dataclass(frozen=True)
class RefundFilter:
    payment_id: UUID | None = None
    event_id: str | None = None
    status: RefundStatus | None = None


@dataclass(frozen=True)
class ListedPayment:
    """A payment as the resource shows it: with its transaction and refunds."""

    payment: Payment
    transaction: Transaction | None
    refunds: list[Refund]


def trim(rows: list[T], page: PageRequest) -> Page[T]:
    """Rows read `limit + 1` in the cursor's direction -> the page, newest first."""
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.ending_before is not None:
        rows.reverse()  # read oldest first, from just before the cursor
    return Page(rows, has_more)


def list_payments(
    uow: SqlUnitOfWork, where: PaymentFilter, page: PageRequest
) -> Page[ListedPayment]:
    """One page of payments with their transactions and refunds; `UnknownCursor` when the
    cursor names no payment."""
    with uow:
        rows = listing_store.payments_page(uow.conn, where, page)
        found = trim(rows, page)
        ids = [p.id for p in found.items]
        transactions = listing_store.transactions_of(uow.conn, ids)
        refunds = listing_store.refunds_of(uow.conn, ids)
    return Page(
        [ListedPayment(p, transactions.get(p.id), refunds.get(p.id, [])) for p in found.items],
        found.has_more,
    )


def list_refunds(uow: SqlUnitOfWork, where: RefundFilter, page: PageRequest) -> Page[Refund]:
    """One page of refunds; `UnknownCursor` when the cursor names no refund."""
    with uow:
        return trim(listing_store.refunds_page(uow.conn, where, page), page)
