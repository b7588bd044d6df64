"""SQL for refunds, their e-mails and event cancellations (tables `refunds`,
`sent_refund_emails`, `event_cancellations`), on the unit of work's connection."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Connection,
    Text,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from payments import money
from payments.db import outbox_store
from payments.db.repository import payment_of, write_once
from payments.db.tables import event_cancellations, payments, refunds, sent_refund_emails
from payments.domain.model import Payment
from payments.domain.refund import (
    Cancellation,
    Refund,
    RefundFailure,
    RefundReason,
    RefundStatus,
)

_PENDING: Any = literal_column("'PENDING'")
_SUCCESS: Any = literal_column("'SUCCESS'")
_CANCELLED: Any = literal_column("'event_cancelled'")
# Built once: it runs in every POST /payments (a statement built per call cost a third of it).
_CANCELLED_UNDER_LOCK = text(
    "SELECT pg_advisory_xact_lock_shared(hashtext('event:' || :e)), "
    "EXISTS (SELECT 1 FROM event_cancellations WHERE event_id = :e)"
)


@dataclass(frozen=True)
class RefundProgress:
    """How far one refund got (for the self-healing sweep)."""

    refund_id: UUID
    status: RefundStatus
    emailed: bool


@dataclass(frozen=True)
class CancellationStats:
    """What GET /events/<id>/cancellation reports."""

    payments: int
    pending: int
    succeeded: int
    failed: int
    amount_refunded: dict[str, Decimal]
    payments_pending: int
    others_pending: int = 0  # refunds of the event's payments made by hand, still PENDING

    @property
    def completed(self) -> bool:
        """No payment of the event PENDING, and no refund of them either (the cancellation's
        or one made by hand): every fan has what they will get back."""
        return self.pending == 0 and self.payments_pending == 0 and self.others_pending == 0


def refund_of(row: Any) -> Refund:
    m = row._mapping
    currency = m["currency"].strip()
    return Refund(
        id=m["id"],
        payment_id=m["payment_id"],
        amount=money.exact(m["amount"], currency),
        currency=currency,
        reason=RefundReason(m["reason"]),
        status=RefundStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        failure_reason=RefundFailure(m["failure_reason"]) if m["failure_reason"] else None,
        by_cancellation=m["by_cancellation"],
    )


def _cancellation_of(row: Any) -> Cancellation:
    m = row._mapping
    return Cancellation(
        m["event_id"], m["reason"], m["created_at"], m["updated_at"], m["cursor"], m["scanned_at"]
    )


def event_lock(exclusive: bool) -> Any:
    """The event's advisory lock: exclusive to cancel it, shared to place or settle a payment
    of it, so that a cancellation and a payment reaching SUCCESS never miss each other."""
    key = func.hashtext(literal_column("'event:'").op("||")(bindparam("b_event")))
    return select(
        func.pg_advisory_xact_lock(key) if exclusive else func.pg_advisory_xact_lock_shared(key)
    )


class SqlRefunds:
    """Refunds and cancellations on one connection; aggregates join the unit of work's seen."""

    def __init__(self, conn: Connection, seen: list[Any]) -> None:
        self.conn, self.seen = conn, seen

    # refunds
    def add(self, refund: Refund) -> None:
        """Insert a new refund (a second cancellation refund of a payment: AlreadyDone)."""
        write_once(self.conn, refunds.insert(), _row(refund))
        self.seen.append(refund)

    def add_many(self, batch: Sequence[Refund]) -> None:
        """Insert several new refunds in one statement."""
        if batch:
            write_once(self.conn, refunds.insert(), [_row(r) for r in batch])
            self.seen.extend(batch)

    def get(self, refund_id: UUID, lock: bool = False) -> Refund | None:
        """The refund, optionally locked FOR UPDATE."""
        query = select(refunds).where(refunds.c.id == refund_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        if row is None:
            return None
        refund = refund_of(row)
        self.seen.append(refund)
        return refund

    def save(self, refund: Refund) -> None:
        """Write a refund's status; a PENDING one (tried again) owes its outcome e-mail anew."""
        values: dict[str, Any] = {
            "status": refund.status.value,
            "failure_reason": refund.failure_reason.value if refund.failure_reason else None,
            "updated_at": refund.updated_at,
        }
        if not refund.status.terminal:
            values["emailed_at"] = None
        self.conn.execute(update(refunds).where(refunds.c.id == refund.id).values(**values))

    def listing(
        self, status: RefundStatus | None, event_id: str | None, limit: int
    ) -> list[tuple[Refund, str]]:
        """Refunds (with their payment's event id), oldest first, optionally of one status
        and one event; at most `limit`."""
        query = (
            select(refunds, payments.c.event_id.label("event_id"))
            .join(payments, payments.c.id == refunds.c.payment_id)
            .order_by(refunds.c.created_at, refunds.c.id)
            .limit(limit)
        )
        if status is not None:
            query = query.where(refunds.c.status == status.value)
        if event_id is not None:
            query = query.where(payments.c.event_id == event_id)
        return [(refund_of(r), r._mapping["event_id"]) for r in self.conn.execute(query)]

    def of_payment(self, payment_id: UUID) -> list[Refund]:
        """The payment's refunds, oldest first."""
        query = (
            select(refunds)
            .where(refunds.c.payment_id == payment_id)
            .order_by(refunds.c.created_at, refunds.c.id)
        )
        return [refund_of(r) for r in self.conn.execute(query)]

    def email_sent(self, refund_id: UUID, kind: str) -> bool:
        query = select(
            exists().where(
                sent_refund_emails.c.refund_id == refund_id, sent_refund_emails.c.kind == kind
            )
        )
        return bool(self.conn.execute(query).scalar())

    def record_email(self, refund_id: UUID, kind: str, message_id: str, outcome: bool) -> None:
        """Record a refund e-mail the SMTP server accepted; an `outcome` one (confirmed or
        failed) also marks the refund e-mailed, which ends what the sweep owes it."""
        self.conn.execute(
            pg_insert(sent_refund_emails).on_conflict_do_nothing(),
            {"refund_id": refund_id, "kind": kind, "message_id": message_id},
        )
        if outcome:
            self.conn.execute(
                update(refunds).where(refunds.c.id == refund_id).values(emailed_at=func.now())
            )

    # cancellations
    def lock_event(self, event_id: str, exclusive: bool = False) -> None:
        """Take the event's advisory lock until the transaction ends (see `event_lock`)."""
        self.conn.execute(event_lock(exclusive), {"b_event": event_id})

    def cancelled(self, event_id: str) -> bool:
        """Whether the event is cancelled, under its shared lock: one round trip (it runs in
        every POST /payments)."""
        _lock, found = self.conn.execute(_CANCELLED_UNDER_LOCK, {"e": event_id}).one()
        return bool(found)

    def add_cancellation(self, cancellation: Cancellation) -> bool:
        """Insert the cancellation; False (and nothing recorded) if the event was already."""
        inserted = self.conn.execute(
            pg_insert(event_cancellations)
            .values(
                event_id=cancellation.event_id,
                reason=cancellation.reason,
                created_at=cancellation.created_at,
                updated_at=cancellation.updated_at,
            )
            .on_conflict_do_nothing()
            .returning(event_cancellations.c.event_id)
        ).first()
        if inserted is None:
            return False
        self.seen.append(cancellation)
        return True

    def get_cancellation(self, event_id: str, lock: bool = False) -> Cancellation | None:
        query = select(event_cancellations).where(event_cancellations.c.event_id == event_id)
        row = self.conn.execute(query.with_for_update() if lock else query).first()
        return _cancellation_of(row) if row else None

    def save_cancellation(self, cancellation: Cancellation) -> None:
        self.conn.execute(
            update(event_cancellations)
            .where(event_cancellations.c.event_id == cancellation.event_id)
            .values(
                cursor=cancellation.cursor,
                scanned_at=cancellation.scanned_at,
                updated_at=cancellation.updated_at,
            )
        )

    def unrefunded_paid(
        self, event_id: str, after: UUID | None, limit: int
    ) -> tuple[list[Payment], UUID | None]:
        """The event's SUCCESS payments after `after` (by id) without a refund of the
        cancellation's (refunds made by hand before do not count: it refunds what they left),
        locked, and the last id looked at (None when there were none: the end). Each is
        checked again once locked: a concurrent settle may have refunded it meanwhile."""
        refunded = exists().where(refunds.c.payment_id == payments.c.id, refunds.c.by_cancellation)
        query = (
            select(payments)
            .where(payments.c.event_id == event_id, payments.c.status == _SUCCESS, ~refunded)
            .order_by(payments.c.id)
            .limit(limit)
            .with_for_update(of=payments)
        )
        if after is not None:
            query = query.where(payments.c.id > after)
        found = [payment_of(r) for r in self.conn.execute(query)]
        if not found:
            return [], None
        again = self.conn.execute(
            select(refunds.c.payment_id).where(
                refunds.c.payment_id.in_([p.id for p in found]), refunds.c.by_cancellation
            )
        )
        done = {r[0] for r in again}
        chosen = [p for p in found if p.id not in done]
        self.seen.extend(chosen)
        return chosen, found[-1].id

    def pending_payments_of(self, event_id: str) -> int:
        """How many payments of the event are still PENDING."""
        query = select(func.count()).where(
            payments.c.event_id == event_id, payments.c.status == _PENDING
        )
        return int(self.conn.execute(query).scalar_one())

    def stats(self, event_id: str) -> CancellationStats:
        """The cancellation's refunds by status and refunded amounts by currency, and the
        refunds of the event's payments made by hand that are still PENDING."""
        query = (
            select(
                refunds.c.by_cancellation,
                refunds.c.status,
                refunds.c.currency,
                func.count(),
                func.sum(refunds.c.amount),
            )
            .select_from(refunds.join(payments, payments.c.id == refunds.c.payment_id))
            .where(
                payments.c.event_id == event_id,
                or_(refunds.c.by_cancellation, refunds.c.status == _PENDING),
            )
            .group_by(refunds.c.by_cancellation, refunds.c.status, refunds.c.currency)
        )
        counts = {s: 0 for s in RefundStatus}
        amounts: dict[str, Decimal] = {}
        others_pending = 0
        for by_cancellation, status, currency, n, total in self.conn.execute(query):
            if not by_cancellation:
                others_pending += n
                continue
            counts[RefundStatus(status)] += n
            if status == RefundStatus.SUCCEEDED:
                code = currency.strip()
                amounts[code] = amounts.get(code, Decimal(0)) + money.exact(total, code)
        return CancellationStats(
            payments=sum(counts.values()),
            pending=counts[RefundStatus.PENDING],
            succeeded=counts[RefundStatus.SUCCEEDED],
            failed=counts[RefundStatus.FAILED],
            amount_refunded=amounts,
            payments_pending=self.pending_payments_of(event_id),
            others_pending=others_pending,
        )

    # recovery
    def stalled(
        self,
        idle_seconds: float,
        limit: int,
        skip_in_flight: bool = False,
        delivered_before: datetime | None = None,
    ) -> list[RefundProgress]:
        """Unfinished refunds (PENDING, or finished without their e-mail) idle that long;
        with `skip_in_flight`, not those whose payment has an event still on its way to Redis
        (`outbox_store.in_flight`: refund events are keyed by the payment id)."""
        cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, float(idle_seconds))
        moved = func.greatest(
            refunds.c.updated_at, refunds.c.redriven_at, refunds.c.next_attempt_at
        )
        columns = (refunds.c.id, refunds.c.status, refunds.c.emailed_at.is_not(None))
        found = []
        for condition in (
            refunds.c.status == _PENDING,
            and_(refunds.c.status != _PENDING, refunds.c.emailed_at.is_(None)),
        ):
            idle = [condition, refunds.c.updated_at < cutoff, moved < cutoff]
            if skip_in_flight:
                key = cast(refunds.c.payment_id, Text)
                idle.append(~outbox_store.in_flight(key, delivered_before))
            query = select(*columns).where(*idle).limit(limit)
            found += [
                RefundProgress(rid, RefundStatus(s), bool(e))
                for rid, s, e in self.conn.execute(query)
            ]
        return found[:limit]

    def schedule_attempt(self, refund_id: UUID, at: datetime) -> None:
        """Note when the gateway will be asked again for this PENDING refund."""
        self.conn.execute(
            update(refunds).where(refunds.c.id == refund_id).values(next_attempt_at=at)
        )

    def mark_redriven(self, refund_ids: Sequence[UUID]) -> None:
        if refund_ids:
            self.conn.execute(
                update(refunds)
                .where(refunds.c.id.in_(list(refund_ids)))
                .values(redriven_at=func.now())
            )

    def scanning(
        self,
        idle_seconds: float,
        limit: int,
        skip_in_flight: bool = False,
        delivered_before: datetime | None = None,
    ) -> list[str]:
        """Cancellations whose batches have not reached the end, idle that long (with
        `skip_in_flight`, not those whose `event.cancelled` is still on its way to Redis)."""
        cutoff = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, float(idle_seconds))
        idle = [
            event_cancellations.c.scanned_at.is_(None),
            event_cancellations.c.updated_at < cutoff,
        ]
        if skip_in_flight:
            idle.append(~outbox_store.in_flight(event_cancellations.c.event_id, delivered_before))
        query = select(event_cancellations.c.event_id).where(*idle).limit(limit)
        return [r[0] for r in self.conn.execute(query)]

    def touch_cancellations(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self.conn.execute(
                update(event_cancellations)
                .where(event_cancellations.c.event_id.in_(list(event_ids)))
                .values(updated_at=func.now())
            )


def _row(refund: Refund) -> dict[str, Any]:
    return {
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": refund.amount,
        "currency": refund.currency,
        "reason": refund.reason.value,
        "status": refund.status.value,
        "failure_reason": refund.failure_reason.value if refund.failure_reason else None,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
        "by_cancellation": refund.by_cancellation,
    }
