"""In-memory unit of work and repository: the fakes beside `SqlUnitOfWork`/`SqlRepository`.

Same contract as the SQL ones (and `MemoryIdempotencyStore` as `SqlIdempotencyStore`), without a
database: a unit of work sees what earlier ones
committed, its own writes vanish unless it commits, the unique keys (one transaction per
payment, one terminal change per entity, one e-mail per kind) raise `AlreadyDone`, and a
commit turns the recorded events into outbox messages. Row locks are not modelled: the
integration tier keeps locking and races on real PostgreSQL.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, TypeVar
from uuid import UUID, uuid4

from payments.config import Topics
from payments.domain.model import Payment, Status, Transaction
from payments.domain.refund import Cancellation, Refund
from payments.errors import AlreadyDone
from payments.messages import OutboxMessage, collect_messages, utcnow
from payments.ports import Progress, StoredKey

A = TypeVar("A", Payment, Transaction, Refund)


@dataclass
class KeyRecord:
    """One Idempotency-Key record of the fake."""

    request_hash: str
    claim_id: UUID
    locked_at: datetime
    expires_at: datetime
    response_status: int | None = None
    response_body: Any = None
    payment_id: UUID | None = None


@dataclass
class MemoryStore:
    """What the fake database holds (committed state only)."""

    payments: dict[UUID, Payment] = field(default_factory=dict)
    transactions: dict[UUID, Transaction] = field(default_factory=dict)
    changes: set[tuple[UUID, str]] = field(default_factory=set)
    emails: dict[tuple[UUID, str], str] = field(default_factory=dict)
    outbox: list[OutboxMessage] = field(default_factory=list)
    redriven: set[UUID] = field(default_factory=set)
    refunds: dict[UUID, Refund] = field(default_factory=dict)
    refund_emails: dict[tuple[UUID, str], str] = field(default_factory=dict)
    refund_attempts: dict[UUID, datetime] = field(default_factory=dict)
    cancellations: dict[str, Cancellation] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], KeyRecord] = field(default_factory=dict)
    gateway_events: set[str] = field(default_factory=set)
    stray_charges: dict[str, UUID] = field(default_factory=dict)
    stray_outcomes: dict[str, str] = field(default_factory=dict)

    def snapshot(self) -> MemoryStore:
        """A deep copy: what a new unit of work starts from."""
        return copy.deepcopy(self)


class MemoryRepository:
    """The `Repository` port over a working copy of the store."""

    def __init__(self, data: MemoryStore) -> None:
        self.data = data
        self.seen: list[Any] = []

    def add_payment(self, payment: Payment) -> None:
        if payment.id in self.data.payments:
            raise AlreadyDone(f"payment {payment.id}")
        self.data.payments[payment.id] = _stored(payment)
        self.seen.append(payment)

    def get_payment(self, payment_id: UUID, lock: bool = False) -> Payment | None:
        return _loaded(self.data.payments.get(payment_id), self.seen)

    def save_payment(self, payment: Payment) -> None:
        self.data.payments[payment.id] = _stored(payment)
        if payment.status.terminal:
            self._record_change(payment.id, "payment")

    def save_reservation(self, payment: Payment) -> None:
        self.data.payments[payment.id].amount_reserved = payment.amount_reserved

    def add_transaction(self, tx: Transaction) -> None:
        if self.transaction_of(tx.payment_id) is not None:
            raise AlreadyDone(f"transaction of payment {tx.payment_id}")
        self.data.transactions[tx.id] = _stored(tx)
        self.seen.append(tx)

    def get_transaction(self, transaction_id: UUID, lock: bool = False) -> Transaction | None:
        found = self.data.transactions.get(transaction_id)
        if found is None:
            return None
        tx = copy.deepcopy(found)
        self.seen.append(tx)
        return tx

    def transaction_with_payment(
        self, transaction_id: UUID, lock_payment: bool = False, lock_transaction: bool = False
    ) -> tuple[Transaction, Payment] | None:
        tx = self.get_transaction(transaction_id)
        if tx is None:
            return None
        payment = self.get_payment(tx.payment_id)
        assert payment is not None  # a transaction's payment exists (the foreign key's rule)
        return tx, payment

    def payment_with_transaction(
        self, payment_id: UUID, lock: bool = False
    ) -> tuple[Payment, Transaction | None] | None:
        payment = self.get_payment(payment_id)
        if payment is None:
            return None
        return payment, self.transaction_of(payment_id)

    def transaction_of(self, payment_id: UUID) -> Transaction | None:
        found = next(
            (t for t in self.data.transactions.values() if t.payment_id == payment_id), None
        )
        return copy.deepcopy(found) if found else None

    def save_transaction(self, tx: Transaction) -> None:
        self.data.transactions[tx.id] = _stored(tx)
        if tx.status.terminal:
            self._record_change(tx.payment_id, "transaction")

    def record_gateway_event(self, event_id: str, event_type: str) -> bool:
        if event_id in self.data.gateway_events:
            return False
        self.data.gateway_events.add(event_id)
        return True

    def add_stray_charge(self, reference: str, transaction_id: UUID) -> bool:
        if reference in self.data.stray_charges:
            return False
        self.data.stray_charges[reference] = transaction_id
        return True

    def expired_actions(self, older_than_s: float, limit: int) -> list[UUID]:
        now = datetime.now(UTC)
        waiting = [
            t for t in self.data.transactions.values()
            if t.awaits_action and (now - t.updated_at).total_seconds() > older_than_s
        ]  # fmt: skip
        return [t.payment_id for t in sorted(waiting, key=lambda t: t.updated_at)][:limit]

    def unsettled_strays(self, limit: int) -> list[str]:
        return [r for r in self.data.stray_charges if r not in self.data.stray_outcomes][:limit]

    def stray_charge(self, reference: str) -> tuple[UUID, str, datetime | None] | None:
        tx_id = self.data.stray_charges.get(reference)
        if tx_id is None:
            return None
        payment = self.data.payments[self.data.transactions[tx_id].payment_id]
        settled = datetime.now(UTC) if reference in self.data.stray_outcomes else None
        return tx_id, payment.currency, settled

    def purge_gateway_events(self, older_than_s: float, limit: int) -> int:
        return 0  # the fake keeps no receipt times

    def settle_stray(self, reference: str, outcome: str) -> None:
        self.data.stray_outcomes.setdefault(reference, outcome)

    def _record_change(self, payment_id: UUID, entity: str) -> None:
        if (payment_id, entity) in self.data.changes:
            raise AlreadyDone(f"{entity} of payment {payment_id} already changed")
        self.data.changes.add((payment_id, entity))

    def email_sent(self, payment_id: UUID, kind: str) -> bool:
        return (payment_id, kind) in self.data.emails

    def record_email(self, payment_id: UUID, kind: str, message_id: str) -> None:
        self.data.emails.setdefault((payment_id, kind), message_id)
        stored = self.data.payments[payment_id]
        stored.emailed_at = stored.emailed_at or datetime.now(UTC)

    def claim_sweep(self) -> bool:
        return True

    def mark_redriven(self, payment_ids: Sequence[UUID]) -> None:
        self.data.redriven.update(payment_ids)

    def progress(
        self,
        payment_ids: Sequence[UUID] | None = None,
        idle_seconds: float | None = None,
        limit: int = 10_000,
        skip_in_flight: bool = False,
        delivered_before: datetime | None = None,
    ) -> list[Progress]:
        """Where payments stand (`idle_seconds` and events in flight are not modelled: every
        unfinished one)."""
        found = []
        for payment in self.data.payments.values():
            if payment_ids is not None and payment.id not in payment_ids:
                continue
            tx = self.transaction_of(payment.id)
            emailed = any(pid == payment.id for pid, _kind in self.data.emails)
            if idle_seconds is not None and payment.status.terminal and emailed:
                continue
            found.append(
                Progress(
                    payment.id,
                    payment.status,
                    tx.id if tx else None,
                    tx.status if tx else None,
                    emailed,
                )
            )
        return found[:limit]


class MemoryRefunds:
    """The `RefundStore` port over the same working copy."""

    def __init__(self, data: MemoryStore, seen: list[Any]) -> None:
        self.data, self.seen = data, seen

    def cancelled(self, event_id: str) -> bool:
        """Whether the event is cancelled (no lock in memory: the integration tier has it)."""
        return event_id in self.data.cancellations

    def add(self, refund: Refund) -> None:
        if refund.by_cancellation and any(
            r.by_cancellation and r.payment_id == refund.payment_id
            for r in self.data.refunds.values()
        ):
            raise AlreadyDone(f"cancellation refund of payment {refund.payment_id}")
        self.data.refunds[refund.id] = _stored(refund)
        self.seen.append(refund)

    def get(self, refund_id: UUID, lock: bool = False) -> Refund | None:
        """The refund (`lock` is not modelled: the integration tier has the locks)."""
        return _loaded(self.data.refunds.get(refund_id), self.seen)

    def save(self, refund: Refund) -> None:
        self.data.refunds[refund.id] = _stored(refund)

    def of_payment(self, payment_id: UUID) -> list[Refund]:
        found = [r for r in self.data.refunds.values() if r.payment_id == payment_id]
        return [copy.deepcopy(r) for r in sorted(found, key=lambda r: (r.created_at, r.id))]

    def email_sent(self, refund_id: UUID, kind: str) -> bool:
        return (refund_id, kind) in self.data.refund_emails

    def record_email(self, refund_id: UUID, kind: str, message_id: str, outcome: bool) -> None:
        self.data.refund_emails.setdefault((refund_id, kind), message_id)

    def schedule_attempt(self, refund_id: UUID, at: datetime) -> None:
        self.data.refund_attempts[refund_id] = at


def _loaded(stored: A | None, seen: list[Any]) -> A | None:
    """A working copy of a stored aggregate, seen by the unit of work (its events collected
    on commit); None when there is none."""
    if stored is None:
        return None
    aggregate = copy.deepcopy(stored)
    seen.append(aggregate)
    return aggregate


def _stored(aggregate: A) -> A:
    stored = copy.deepcopy(aggregate)
    stored.facts = []
    return stored


class MemoryIdempotencyStore:
    """The `IdempotencyStore` port over a working copy of the store, on the unit of work's
    clock (the SQL store uses the database's)."""

    def __init__(self, data: MemoryStore, clock: Callable[[], datetime]) -> None:
        self.records, self.clock = data.idempotency, clock

    def claim(
        self, scope: str, key: str, request_hash: str, ttl: timedelta, lease: timedelta
    ) -> UUID | None:
        now = self.clock()
        held = self.records.get((scope, key))
        if held is not None and held.expires_at > now:
            abandoned = held.response_status is None and held.locked_at < now - lease
            if not abandoned:
                return None
        claim_id = uuid4()
        self.records[(scope, key)] = KeyRecord(request_hash, claim_id, now, now + ttl)
        return claim_id

    def get(self, scope: str, key: str) -> StoredKey | None:
        record = self.records.get((scope, key))
        if record is None or record.expires_at <= self.clock():
            return None
        return StoredKey(
            record.request_hash, record.response_status, record.response_body, record.payment_id
        )

    def finish(
        self,
        scope: str,
        key: str,
        claim_id: UUID,
        status: int,
        body: Any,
        payment_id: UUID | None,
    ) -> bool:
        record = self.records.get((scope, key))
        if record is None or record.claim_id != claim_id or record.response_status is not None:
            return False
        record.response_status, record.response_body = status, copy.deepcopy(body)
        record.payment_id = payment_id
        return True

    def release(self, scope: str, key: str, claim_id: UUID) -> None:
        record = self.records.get((scope, key))
        if record is not None and record.claim_id == claim_id and record.response_status is None:
            del self.records[(scope, key)]

    def purge_expired(self, limit: int = 100) -> int:
        now = self.clock()
        expired = [k for k, r in self.records.items() if r.expires_at <= now][:limit]
        for k in expired:
            del self.records[k]
        return len(expired)


class MemoryUnitOfWork:
    """The `UnitOfWork` port over a `MemoryStore`: all or nothing, like a transaction."""

    repo: MemoryRepository
    refunds: MemoryRefunds
    idempotency: MemoryIdempotencyStore

    def __init__(
        self,
        store: MemoryStore | None = None,
        topics: Topics | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.store = store if store is not None else MemoryStore()
        self.topics = topics or Topics()
        self.clock = clock
        self.committed = 0

    def __enter__(self) -> MemoryUnitOfWork:
        self._working = self.store.snapshot()
        self.repo = MemoryRepository(self._working)
        self.refunds = MemoryRefunds(self._working, self.repo.seen)
        self.idempotency = MemoryIdempotencyStore(self._working, self.clock)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._working = MemoryStore()  # anything not committed is gone

    @contextmanager
    def reading(self) -> Iterator[MemoryUnitOfWork]:
        with self:
            yield self

    def commit(self) -> None:
        """Publish the working copy and the events' outbox messages, at once."""
        messages = collect_messages(self.repo.seen, self.topics, self.clock())
        self._working.outbox.extend(messages)
        self.store.__dict__.update(self._working.snapshot().__dict__)
        self.committed += 1

    @property
    def statuses(self) -> dict[UUID, Status]:
        """Committed payment statuses (for assertions)."""
        return {pid: p.status for pid, p in self.store.payments.items()}
