"""Listing payments and refunds a page at a time (Stripe's cursor pagination).

Newest first, by (created_at, id): a cursor is the id of the last item seen (`starting_after`,
the next page) or of the first (`ending_before`, the page before). A page reads `limit + 1`
rows from an index that matches its filters (schema.sql, "listing"), so it costs the same
with a million past payments as with none.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.db.listing_store import SqlListing
from payments.domain.listing import Page, PageRequest, PaymentFilter, RefundFilter, trim
from payments.domain.model import Payment, Transaction
from payments.domain.refund import Refund
from payments.uow import SqlUnitOfWork


@dataclass(frozen=True)
class ListedPayment:
    """A payment as the resource shows it: with its transaction and refunds."""

    payment: Payment
    transaction: Transaction | None
    refunds: list[Refund]


def list_payments(
    uow: SqlUnitOfWork, where: PaymentFilter, page: PageRequest
) -> Page[ListedPayment]:
    """One page of payments with their transactions and refunds; `UnknownCursor` when the
    cursor names no payment."""
    with uow:
        listing = SqlListing(uow.conn)
        found = trim(listing.payments_page(where, page), page)
        ids = [p.id for p in found.items]
        transactions = listing.transactions_of(ids)
        refunds = listing.refunds_of(ids)
    return Page(
        [ListedPayment(p, transactions.get(p.id), refunds.get(p.id, [])) for p in found.items],
        found.has_more,
    )


def list_refunds(uow: SqlUnitOfWork, where: RefundFilter, page: PageRequest) -> Page[Refund]:
    """One page of refunds; `UnknownCursor` when the cursor names no refund."""
    with uow:
        return trim(SqlListing(uow.conn).refunds_page(where, page), page)
