"""The IdempotencyStore port's contract, run against the in-memory fake (unit tier) and the
SQL store on real PostgreSQL (integration tier): the fake may stand in for the real one only
as long as both pass the same checks."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from payments.ports import UnitOfWork

HOUR, NONE = timedelta(hours=1), timedelta(0)
NewUow = Callable[[], UnitOfWork]


def _key() -> tuple[str, str]:
    return f"scope-{uuid.uuid4().hex[:8]}", f"key-{uuid.uuid4().hex[:8]}"


def _do(new_uow: NewUow, work: Callable[[UnitOfWork], Any], commit: bool = True) -> Any:
    with new_uow() as uow:
        result = work(uow)
        if commit:
            uow.commit()
    return result


def a_live_claim_holds_the_key_until_finished(new_uow: NewUow) -> None:
    scope, key = _key()
    claim = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h1", HOUR, HOUR))
    assert claim is not None
    assert _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h2", HOUR, HOUR)) is None
    stored = _do(new_uow, lambda u: u.idempotency.get(scope, key))
    assert stored is not None and stored.in_flight and stored.request_hash == "h1"

    payment_id = uuid.uuid4()
    body = {"id": str(payment_id), "amount": "10.00"}
    finish = lambda u: u.idempotency.finish(scope, key, claim, 201, body, payment_id)  # noqa: E731
    assert _do(new_uow, finish) is True
    assert _do(new_uow, finish) is False  # a claim finishes once
    stored = _do(new_uow, lambda u: u.idempotency.get(scope, key))
    assert not stored.in_flight
    assert (stored.response_status, stored.response_body) == (201, body)
    assert stored.payment_id == payment_id


def a_released_claim_frees_the_key_but_a_finished_one_stays(new_uow: NewUow) -> None:
    scope, key = _key()
    first = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, HOUR))
    _do(new_uow, lambda u: u.idempotency.release(scope, key, first))
    assert _do(new_uow, lambda u: u.idempotency.get(scope, key)) is None
    second = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, HOUR))
    assert second is not None and second != first
    _do(new_uow, lambda u: u.idempotency.release(scope, key, first))  # not its claim: no effect
    assert _do(new_uow, lambda u: u.idempotency.get(scope, key)) is not None
    _do(new_uow, lambda u: u.idempotency.finish(scope, key, second, 201, {}, None))
    _do(new_uow, lambda u: u.idempotency.release(scope, key, second))  # finished: stays
    assert _do(new_uow, lambda u: u.idempotency.get(scope, key)).response_status == 201


def a_claim_taken_by_another_cannot_finish(new_uow: NewUow) -> None:
    scope, key = _key()
    first = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, NONE))
    # Its lease is over (a dead request): another takes the key over.
    second = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, NONE))
    assert second is not None and second != first
    assert _do(new_uow, lambda u: u.idempotency.finish(scope, key, first, 201, {}, None)) is False
    assert _do(new_uow, lambda u: u.idempotency.finish(scope, key, second, 201, {}, None)) is True
    # A finished record is no longer in flight: its lease no longer matters.
    assert _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, NONE)) is None


def an_expired_record_counts_as_absent_and_is_purged(new_uow: NewUow) -> None:
    scope, key = _key()
    claim = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", NONE, HOUR))
    _do(new_uow, lambda u: u.idempotency.finish(scope, key, claim, 201, {}, None))
    assert _do(new_uow, lambda u: u.idempotency.get(scope, key)) is None
    assert _do(new_uow, lambda u: u.idempotency.purge_expired(10_000)) >= 1
    assert _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, HOUR)) is not None


def an_uncommitted_claim_vanishes(new_uow: NewUow) -> None:
    scope, key = _key()
    claimed = _do(new_uow, lambda u: u.idempotency.claim(scope, key, "h", HOUR, HOUR), False)
    assert claimed is not None
    assert _do(new_uow, lambda u: u.idempotency.get(scope, key)) is None


CHECKS = [
    a_live_claim_holds_the_key_until_finished,
    a_released_claim_frees_the_key_but_a_finished_one_stays,
    a_claim_taken_by_another_cannot_finish,
    an_expired_record_counts_as_absent_and_is_purged,
    an_uncommitted_claim_vanishes,
]
