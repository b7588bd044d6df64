"""SQL for payments, transactions, status changes and sent e-mails (one place per table)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Connection,
    Executable,
    Text,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from payments import money
from payments.db import outbox_store
from payments.db.tables import (
    PAYMENT_FIELDS,
    gateway_events,
    payments,
    sent_emails,
    status_changes,
    stray_charges,
    transactions,
)
from payments.domain.model import Payment, Reason, Status, Transaction
from payments.domain.secret import PaymentToken
from payments.errors import AlreadyDone
from payments.ports import Progress

UNIQUE_VIOLATION = "23505"
SWEEP_LOCK = 727_002  # advisory lock id: one self-healing sweep at a time


# The hot statements, built once with bound parameters: SQLAlchemy then neither rebuilds nor
# re-keys them on every call (a third of the client CPU of these short queries).
_ADD_PAYMENT = insert(payments)
_PAYMENT = select(payments).where(payments.c.id == bindparam("b_id"))
_PAYMENT_LOCKED = _PAYMENT.with_for_update()
_SAVE_PAYMENT = (
    update(payments)
    .where(payments.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        payment_token=bindparam("b_token"),
        failure_reason=bindparam("b_reason"),
        amount_reserved=bindparam("b_reserved"),
        updated_at=bindparam("b_updated_at"),
    )
)
_ADD_TRANSACTION = insert(transactions)
_TRANSACTION = select(transactions).where(transactions.c.id == bindparam("b_id"))
_TRANSACTION_LOCKED = _TRANSACTION.with_for_update()
_TRANSACTION_OF = select(transactions).where(transactions.c.payment_id == bindparam("b_id"))
# A transaction (its columns prefixed "tx_") with its payment, in one read; the locked form
# locks the payment row only, as the steps that lock both take the payment's lock first.
_TX_PREFIX = "tx_"
_TX_AND_PAYMENT = (
    select(payments, *(column.label(_TX_PREFIX + column.name) for column in transactions.c))
    .join_from(transactions, payments, transactions.c.payment_id == payments.c.id)
    .where(transactions.c.id == bindparam("b_id"))
)
_TX_AND_PAYMENT_LOCKED = _TX_AND_PAYMENT.with_for_update(of=payments)
# Both rows locked: a transaction's writer locks both, so that a row it waited for is read
# again once free (PostgreSQL re-reads only the locked rows of a join after a lock wait).
_TX_AND_PAYMENT_BOTH_LOCKED = _TX_AND_PAYMENT.with_for_update()
# A payment with its transaction, if any (a left join), in one read; the locked form locks
# the payment row only.
_PAYMENT_AND_TX = (
    select(payments, *(column.label(_TX_PREFIX + column.name) for column in transactions.c))
    .join_from(payments, transactions, transactions.c.payment_id == payments.c.id, isouter=True)
    .where(payments.c.id == bindparam("b_id"))
)
_PAYMENT_AND_TX_LOCKED = _PAYMENT_AND_TX.with_for_update(of=payments)
_SAVE_TRANSACTION = (
    update(transactions)
    .where(transactions.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        reason=bindparam("b_reason"),
        updated_at=bindparam("b_updated_at"),
        gateway_reference=bindparam("b_reference"),
        decline_code=bindparam("b_decline_code"),
        action_secret=bindparam("b_action_secret"),
    )
)


def _with_change(save: Any, entity: str, payment_id: Any) -> Any:
    """`save` (an UPDATE of one row to a terminal status) and the insert of its one status
    change, in one statement: the status_changes key still refuses a second change."""
    saved = save.returning(payment_id.label("payment_id"), literal_column("status")).cte("saved")
    return insert(status_changes).from_select(
        ["payment_id", "entity", "to_status"],
        select(saved.c.payment_id, literal(entity), saved.c.status),
    )


_FINISH_TRANSACTION = _with_change(_SAVE_TRANSACTION, "transaction", transactions.c.payment_id)
_RECORD_GATEWAY_EVENT = (
    pg_insert(gateway_events).on_conflict_do_nothing().returning(gateway_events.c.id)
)
_EXPIRED_ACTIONS = text(
    "SELECT payment_id FROM transactions WHERE status = 'PENDING'"
    " AND gateway_reference IS NOT NULL"
    " AND updated_at < now() - make_interval(secs => :b_seconds)"
    " ORDER BY updated_at LIMIT :b_limit"
)
_UNSETTLED_STRAYS = text(
    "SELECT gateway_reference FROM stray_charges WHERE settled_at IS NULL"
    " ORDER BY found_at LIMIT :b_limit"
)
_STRAY = text(
    "SELECT s.transaction_id, p.currency, s.settled_at FROM stray_charges s"
    " JOIN transactions t ON t.id = s.transaction_id JOIN payments p ON p.id = t.payment_id"
    " WHERE s.gateway_reference = :b_ref"
)
_SETTLE_STRAY = text(
    "UPDATE stray_charges SET settled_at = now(), outcome = :b_outcome"
    " WHERE gateway_reference = :b_ref AND settled_at IS NULL"
)
_PURGE_EVENTS = text(
    "DELETE FROM gateway_events WHERE id IN (SELECT id FROM gateway_events"
    " WHERE received_at < now() - make_interval(secs => :b_seconds)"
    " ORDER BY received_at LIMIT :b_limit)"
)
_ADD_STRAY = (
    pg_insert(stray_charges).on_conflict_do_nothing().returning(stray_charges.c.gateway_reference)
)
_FINISH_PAYMENT = _with_change(_SAVE_PAYMENT, "payment", payments.c.id)
_EMAIL_SENT = select(
    exists().where(
        sent_emails.c.payment_id == bindparam("b_id"), sent_emails.c.kind == bindparam("b_kind")
    )
)
# The e-mail's record and the payment's emailed_at in one statement (one round trip).
_SENT = (
    pg_insert(sent_emails)
    .values(payment_id=bindparam("b_id"), kind=bindparam("b_kind"), message_id=bindparam("b_mid"))
    .on_conflict_do_nothing()
    .cte("sent")
)
_SAVE_RESERVATION = (
    update(payments)
    .where(payments.c.id == bindparam("b_id"))
    .values(amount_reserved=bindparam("b_reserved"))
)
_RECORD_EMAIL = (
    update(payments)
    .where(payments.c.id == bindparam("b_id"), payments.c.emailed_at.is_(None))
    .values(emailed_at=func.now())
    .add_cte(_SENT)
)
# Literal status values, so that PostgreSQL matches the partial indexes of the sweep even
# with a generic plan (a bound parameter would not).
_PENDING: Any = literal_column("'PENDING'")


def payment_of(row: Any) -> Payment:
    m = row._mapping
    return Payment(
        id=m["id"],
        status=Status(m["status"]),
        user_name=m["user_name"],
        user_email=m["user_email"],
        user_language=m["user_language"],
        event_id=m["event_id"],
        amount=money.exact(m["amount"], m["currency"].strip()),
        currency=m["currency"].strip(),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        event_name=m["event_name"],
        event_description=m["event_description"],
        event_image_url=m["event_image_url"],
        payment_token=PaymentToken(m["payment_token"]) if m["payment_token"] else None,
        failure_reason=Reason(m["failure_reason"]) if m["failure_reason"] else None,
        amount_reserved=m["amount_reserved"],
        emailed_at=m["emailed_at"],
    )


def _reveal(token: PaymentToken | None) -> str | None:
    """The token for its column (the one place it is stored, until the gateway answered)."""
    return token.reveal() if token is not None else None


def _transaction(row: Any, prefix: str = "") -> Transaction:
    m = row._mapping
    if prefix:  # the transaction's own columns of a joined row
        m = {name[len(prefix) :]: v for name, v in m.items() if name.startswith(prefix)}
    return Transaction(
        id=m["id"],
        payment_id=m["payment_id"],
        status=Status(m["status"]),
        reason=Reason(m["reason"]) if m["reason"] else None,
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        gateway_reference=m["gateway_reference"],
        decline_code=m["decline_code"],
        action_secret=m["action_secret"],
    )


def write_once(conn: Connection, statement: Executable, params: Any) -> None:
    """Execute a write; a unique key refusing it (a lost race) raises `AlreadyDone`."""
    try:
        conn.execute(statement, params)
    except IntegrityError as err:
        if getattr(err.orig, "sqlstate", None) == UNIQUE_VIOLATION:
            raise AlreadyDone(f"already done: {type(err.orig).__name__}") from None
        raise


class SqlRepository:
    """Loads and saves aggregates on one connection; remembers what it saw for the unit of work."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.seen: list[Any] = []  # aggregates whose events become outbox rows

    def _write(self, statement: Executable, params: dict[str, Any]) -> None:
        write_once(self.conn, statement, params)

    # payments
    def add_payment(self, payment: Payment) -> None:
        """Insert a new payment."""
        values = {name: getattr(payment, name) for name in PAYMENT_FIELDS}
        values["status"] = payment.status.value
        values["payment_token"] = _reveal(payment.payment_token)
        values["failure_reason"] = None
        self.conn.execute(_ADD_PAYMENT, values)
        self.seen.append(payment)

    def get_payment(self, payment_id: UUID, lock: bool = False) -> Payment | None:
        """The payment, optionally locked FOR UPDATE until the unit of work ends."""
        query = _PAYMENT_LOCKED if lock else _PAYMENT
        row = self.conn.execute(query, {"b_id": payment_id}).first()
        if row is None:
            return None
        payment = payment_of(row)
        self.seen.append(payment)
        return payment

    def save_payment(self, payment: Payment) -> None:
        """Write a payment's mutable fields; a terminal status also records its one change
        (in the same statement)."""
        self._write(
            _FINISH_PAYMENT if payment.status.terminal else _SAVE_PAYMENT,
            {
                "b_id": payment.id,
                "b_status": payment.status.value,
                "b_token": _reveal(payment.payment_token),
                "b_reserved": payment.amount_reserved,
                "b_reason": payment.failure_reason.value if payment.failure_reason else None,
                "b_updated_at": payment.updated_at,
            },
        )

    def save_reservations(self, batch: Sequence[Payment]) -> None:
        """`save_reservation` for several payments, in one executemany."""
        if batch:
            self.conn.execute(
                _SAVE_RESERVATION,
                [{"b_id": p.id, "b_reserved": p.amount_reserved} for p in batch],
            )

    def save_reservation(self, payment: Payment) -> None:
        """Write what the payment's refunds reserve (the CHECK keeps it within the amount)."""
        self.conn.execute(
            update(payments)
            .where(payments.c.id == payment.id)
            .values(amount_reserved=payment.amount_reserved)
        )

    # transactions
    def add_transaction(self, tx: Transaction) -> None:
        """Insert a new transaction (the unique payment_id guards against a second one)."""
        self._write(
            _ADD_TRANSACTION,
            {
                "id": tx.id,
                "payment_id": tx.payment_id,
                "status": tx.status.value,
                "reason": None,
                "created_at": tx.created_at,
                "updated_at": tx.updated_at,
            },
        )
        self.seen.append(tx)

    def get_transaction(self, transaction_id: UUID, lock: bool = False) -> Transaction | None:
        """The transaction by id, optionally locked FOR UPDATE."""
        query = _TRANSACTION_LOCKED if lock else _TRANSACTION
        row = self.conn.execute(query, {"b_id": transaction_id}).first()
        if row is None:
            return None
        tx = _transaction(row)
        self.seen.append(tx)
        return tx

    def transaction_with_payment(
        self, transaction_id: UUID, lock_payment: bool = False, lock_transaction: bool = False
    ) -> tuple[Transaction, Payment] | None:
        """The transaction and its payment in one read, the payment optionally locked FOR
        UPDATE, and the transaction too with `lock_transaction` (which implies the payment's)."""
        if lock_transaction:
            query = _TX_AND_PAYMENT_BOTH_LOCKED
        else:
            query = _TX_AND_PAYMENT_LOCKED if lock_payment else _TX_AND_PAYMENT
        row = self.conn.execute(query, {"b_id": transaction_id}).first()
        if row is None:
            return None
        tx, payment = _transaction(row, _TX_PREFIX), payment_of(row)
        self.seen.extend((tx, payment))
        return tx, payment

    def payment_with_transaction(
        self, payment_id: UUID, lock: bool = False
    ) -> tuple[Payment, Transaction | None] | None:
        """The payment and its transaction (None before it has one) in one read, the payment
        optionally locked FOR UPDATE."""
        query = _PAYMENT_AND_TX_LOCKED if lock else _PAYMENT_AND_TX
        row = self.conn.execute(query, {"b_id": payment_id}).first()
        if row is None:
            return None
        payment = payment_of(row)
        self.seen.append(payment)
        has_tx = row._mapping[_TX_PREFIX + "id"] is not None
        return payment, _transaction(row, _TX_PREFIX) if has_tx else None

    def transaction_of(self, payment_id: UUID) -> Transaction | None:
        """The payment's transaction, if it has one."""
        row = self.conn.execute(_TRANSACTION_OF, {"b_id": payment_id}).first()
        return _transaction(row) if row else None

    def save_transaction(self, tx: Transaction) -> None:
        """Write a transaction's status; a terminal status also records its one change (in the
        same statement)."""
        self._write(
            _FINISH_TRANSACTION if tx.status.terminal else _SAVE_TRANSACTION,
            {
                "b_id": tx.id,
                "b_status": tx.status.value,
                "b_reason": tx.reason.value if tx.reason else None,
                "b_updated_at": tx.updated_at,
                "b_reference": tx.gateway_reference,
                "b_decline_code": tx.decline_code,
                "b_action_secret": tx.action_secret,
            },
        )

    # e-mails
    def email_sent(self, payment_id: UUID, kind: str) -> bool:
        """Whether the e-mail of this kind was already recorded as sent."""
        return bool(self.conn.execute(_EMAIL_SENT, {"b_id": payment_id, "b_kind": kind}).scalar())

    def record_email(self, payment_id: UUID, kind: str, message_id: str) -> None:
        """Record an e-mail the SMTP server accepted (and when the payment was e-mailed)."""
        self.conn.execute(_RECORD_EMAIL, {"b_id": payment_id, "b_kind": kind, "b_mid": message_id})

    # the gateway's webhook events (contract section 12)
    def record_gateway_event(self, event_id: str, event_type: str) -> bool:
        """Note a webhook event as applied; False when it was already (a redelivery). Two
        deliveries at once take turns on the key: the second sees the first's row."""
        inserted = self.conn.execute(
            _RECORD_GATEWAY_EVENT, {"id": event_id, "type": event_type}
        ).first()
        return inserted is not None

    def add_stray_charge(self, reference: str, transaction_id: UUID) -> bool:
        """Note a charge that succeeded for a FAILED transaction, to be refunded; False when
        it was noted already."""
        inserted = self.conn.execute(
            _ADD_STRAY, {"gateway_reference": reference, "transaction_id": transaction_id}
        ).first()
        return inserted is not None

    def expired_actions(self, older_than_s: float, limit: int) -> list[UUID]:
        """Payments whose 3-D Secure authentication has waited longer than `older_than_s`."""
        rows = self.conn.execute(
            _EXPIRED_ACTIONS, {"b_seconds": older_than_s, "b_limit": limit}
        ).all()
        return [row[0] for row in rows]

    def unsettled_strays(self, limit: int) -> list[str]:
        """The stray charges not refunded yet (their gateway references), oldest first."""
        return [row[0] for row in self.conn.execute(_UNSETTLED_STRAYS, {"b_limit": limit})]

    def stray_charge(self, reference: str) -> tuple[UUID, str, datetime | None] | None:
        """A stray charge's transaction, currency and when it was settled."""
        row = self.conn.execute(_STRAY, {"b_ref": reference}).first()
        return (row[0], row[1], row[2]) if row else None

    def settle_stray(self, reference: str, outcome: str) -> None:
        """Record the gateway's answer to a stray charge's refund."""
        self.conn.execute(_SETTLE_STRAY, {"b_ref": reference, "b_outcome": outcome})

    def purge_gateway_events(self, older_than_s: float, limit: int) -> int:
        """Forget up to `limit` webhook event ids received over `older_than_s` ago."""
        result = self.conn.execute(_PURGE_EVENTS, {"b_seconds": older_than_s, "b_limit": limit})
        return int(result.rowcount or 0)

    def claim_sweep(self) -> bool:
        """Take the sweep's lock until this transaction ends; False if another holds it."""
        query = select(func.pg_try_advisory_xact_lock(SWEEP_LOCK))
        return bool(self.conn.execute(query).scalar_one())

    def mark_redriven(self, payment_ids: Sequence[UUID]) -> None:
        """Remember that the sweep re-drove these payments now (it waits before the next)."""
        if payment_ids:
            self.conn.execute(
                update(payments)
                .where(payments.c.id.in_(list(payment_ids)))
                .values(redriven_at=func.now())
            )

    # recovery
    def progress(
        self,
        payment_ids: Sequence[UUID] | None = None,
        idle_seconds: float | None = None,
        limit: int = 10_000,
        skip_in_flight: bool = False,
        delivered_before: datetime | None = None,
    ) -> list[Progress]:
        """Where payments stand: the given ones, or every unfinished one idle that long.

        Unfinished: PENDING, or finished without its e-mail recorded. Idle: neither the
        payment nor its transaction changed, nor was it re-driven, for `idle_seconds`. The
        idle query reads only the partial indexes of unfinished payments. `skip_in_flight`
        leaves out the payments with an event still on its way to Redis
        (`outbox_store.in_flight`, before the delivery horizon `delivered_before`).
        """
        joined = payments.outerjoin(transactions, transactions.c.payment_id == payments.c.id)
        columns = (
            payments.c.id,
            payments.c.status,
            transactions.c.id,
            transactions.c.status,
            payments.c.emailed_at.is_not(None),
            payments.c.updated_at,
        )
        query: Any
        if idle_seconds is None:
            query = select(*columns).select_from(joined)
            query = query.where(payments.c.id.in_(list(payment_ids or [])))
        else:
            cutoff = _ago(idle_seconds)
            last_move = func.greatest(
                transactions.c.updated_at, payments.c.redriven_at, payments.c.updated_at
            )
            pending = select(*columns).select_from(joined).where(payments.c.status == _PENDING)
            unnotified = (
                select(*columns)
                .select_from(joined)
                .where(payments.c.status != _PENDING, payments.c.emailed_at.is_(None))
            )
            idle = [payments.c.updated_at < cutoff, last_move < cutoff]
            if skip_in_flight:
                key = cast(payments.c.id, Text)
                idle.append(~outbox_store.in_flight(key, delivered_before))
            branches = [q.where(*idle).limit(limit) for q in (pending, unnotified)]
            query = union_all(*branches).order_by("updated_at").limit(limit)
        return [
            Progress(pid, Status(status), tid, Status(tstatus) if tstatus else None, bool(sent))
            for pid, status, tid, tstatus, sent, _updated in self.conn.execute(query)
        ]


def _ago(seconds: float) -> Any:
    """`now() - seconds`, computed by PostgreSQL."""
    return func.now() - func.make_interval(0, 0, 0, 0, 0, 0, literal(float(seconds)))
