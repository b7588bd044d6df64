"""The SQL IdempotencyStore keeps the port's contract on real PostgreSQL (the same checks
run on the in-memory fake in tests/unit/test_idempotency_memory.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from payments.bootstrap import Container
from tests.support import idempotency_contract


@pytest.mark.parametrize("check", idempotency_contract.CHECKS, ids=lambda c: c.__name__)
def test_the_sql_store_keeps_the_contract(container: Container, check: Callable[..., None]) -> None:
    check(container.uow)
