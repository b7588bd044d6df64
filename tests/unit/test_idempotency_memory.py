"""The in-memory IdempotencyStore keeps the port's contract (the same checks run on
PostgreSQL in tests/integration/api/test_idempotency_store.py), in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from payments.db.memory import MemoryStore, MemoryUnitOfWork
from tests.support import idempotency_contract


def ticking_clock() -> Callable[[], datetime]:
    """A clock one millisecond later at every reading (as time passes between transactions)."""
    now = [datetime(2026, 12, 2, tzinfo=UTC)]

    def read() -> datetime:
        now[0] += timedelta(milliseconds=1)
        return now[0]

    return read


@pytest.mark.parametrize("check", idempotency_contract.CHECKS, ids=lambda c: c.__name__)
def test_the_fake_keeps_the_contract(check: Callable[..., None]) -> None:
    store, clock = MemoryStore(), ticking_clock()
    check(lambda: MemoryUnitOfWork(store, clock=clock))
