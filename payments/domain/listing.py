"""Pages of a list, newest first by (created_at, id), with Stripe's cursors (pure: the SQL is
`payments.db.listing_store`, the use cases `payments.listing`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

from payments.domain.model import Status
from payments.domain.refund import RefundStatus

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

    @property
    def backwards(self) -> bool:
        """Read oldest first, from just before `ending_before` (the page before it); with
        both cursors the page is the window between them, read from `starting_after`."""
        return self.ending_before is not None and self.starting_after is None


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


def trim(rows: list[T], page: PageRequest) -> Page[T]:
    """Rows read `limit + 1` in the cursor's direction -> the page, newest first."""
    has_more = len(rows) > page.limit
    rows = rows[: page.limit]
    if page.backwards:
        rows.reverse()  # read oldest first, from just before the cursor
    return Page(rows, has_more)
