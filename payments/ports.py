"""The small interfaces the use cases need from the outside world."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol
from uuid import UUID

from payments.domain.gateway_rule import Decision
from payments.domain.model import Payment, Status, Transaction
from payments.domain.refund import Refund
from payments.domain.secret import PaymentToken
from payments.messages import OutboxMessage


@dataclass(frozen=True)
class Charge:
    """What the gateway is asked to charge: the transaction id is the idempotency key."""

    transaction_id: UUID
    payment_id: UUID
    token: PaymentToken | None
    amount: Decimal
    currency: str
    opened_at: datetime  # when the transaction was opened (the first attempt)
    reference: str | None = None  # the gateway's id of it, once known


@dataclass(frozen=True)
class RefundOrder:
    """What the gateway is asked to refund: the refund id is the idempotency key; the charge
    is named by its gateway reference (or found by its transaction id when it has none)."""

    refund_id: UUID
    transaction_id: UUID
    gateway_reference: str | None
    amount: Decimal | None  # None: all that is left of the charge
    currency: str


class RefundOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    PENDING = "pending"  # the gateway took it and will finish it later
    FAILED = "failed"  # the gateway refused it for good


class Gateway(Protocol):
    def charge(self, charge: Charge) -> Decision:
        """Charge once per idempotency key; `TransientGatewayError` when the outcome is
        unknown (retry with the same key), `GatewayRefused` when nothing was charged and no
        retry of this call can help."""
        ...

    def resolve(self, charge: Charge) -> Decision:
        """After the retries ran out with the outcome unknown: make sure no charge of it can
        succeed any more. The decision of a charge the gateway made (SUCCESS, or FAILED with
        its reason), else FAILED `gateway_unavailable` once any attempt is cancelled or none
        exists; `TransientGatewayError` while that cannot be established."""
        ...

    def cancel_action(self, charge: Charge) -> Decision:
        """Cancel a PaymentIntent waiting for the cardholder: FAILED `authentication_failed`
        once cancelled, or the charge's decision if it succeeded (or was declined) first."""
        ...

    def refund(self, order: RefundOrder) -> RefundOutcome:
        """Refund once per key; `TransientGatewayError` to retry with the same key."""
        ...


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str
    kind: str = ""  # approved, rejected, refund_confirmed...: what /metrics counts it as


class EmailRenderer(Protocol):
    def __call__(self, payment: Payment, kind: str, decline_code: str | None = None) -> Email:
        """The e-mail of `kind` ('approved' or 'rejected') for a finished payment; a decline's
        code may say why in the fan's words (contract section 12)."""
        ...


class RefundEmailRenderer(Protocol):
    def __call__(self, payment: Payment, kind: str, refund: Refund) -> Email:
        """The e-mail of `kind` ('refund_confirmed', 'refund_failed', 'refund_delayed') about
        a refund of `payment`, in the payment's language."""
        ...


class Mailer(Protocol):
    def send(self, email: Email) -> str:
        """Hand the e-mail to the SMTP server; return its Message-ID once accepted."""
        ...


class Publisher(Protocol):
    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish in order; return once every message was acknowledged, else raise."""
        ...

    def close(self) -> None:
        """Flush and release the connection."""
        ...


class Repository(Protocol):
    """Loads and saves aggregates inside one unit of work. A write that a unique key refuses
    (another delivery did this step first) raises `payments.errors.AlreadyDone`."""

    @property
    def seen(self) -> list[Payment | Transaction]:
        """Every aggregate loaded or added (their events become outbox rows on commit)."""
        ...

    def add_payment(self, payment: Payment) -> None: ...
    def get_payment(self, payment_id: UUID, lock: bool = False) -> Payment | None: ...
    def save_payment(self, payment: Payment) -> None: ...
    def add_transaction(self, tx: Transaction) -> None: ...
    def get_transaction(self, transaction_id: UUID, lock: bool = False) -> Transaction | None: ...
    def transaction_with_payment(
        self, transaction_id: UUID, lock_payment: bool = False, lock_transaction: bool = False
    ) -> tuple[Transaction, Payment] | None: ...
    def payment_with_transaction(
        self, payment_id: UUID, lock: bool = False
    ) -> tuple[Payment, Transaction | None] | None: ...
    def transaction_of(self, payment_id: UUID) -> Transaction | None: ...
    def save_transaction(self, tx: Transaction) -> None: ...
    def email_sent(self, payment_id: UUID, kind: str) -> bool: ...
    def record_email(self, payment_id: UUID, kind: str, message_id: str) -> None: ...
    def save_reservation(self, payment: Payment) -> None: ...
    def record_gateway_event(self, event_id: str, event_type: str) -> bool: ...
    def add_stray_charge(self, reference: str, transaction_id: UUID) -> bool: ...
    def expired_actions(self, older_than_s: float, limit: int) -> list[UUID]: ...
    def unsettled_strays(self, limit: int) -> list[str]: ...
    def stray_charge(self, reference: str) -> tuple[UUID, str, datetime | None] | None: ...
    def settle_stray(self, reference: str, outcome: str) -> None: ...
    def purge_gateway_events(self, older_than_s: float, limit: int) -> int: ...
    def claim_sweep(self) -> bool: ...
    def mark_redriven(self, payment_ids: Sequence[UUID]) -> None: ...
    def progress(
        self,
        payment_ids: Sequence[UUID] | None = None,
        idle_seconds: float | None = None,
        limit: int = 10_000,
        skip_in_flight: bool = False,
        delivered_before: datetime | None = None,
    ) -> list[Progress]: ...


class RefundStore(Protocol):
    """Refunds on the unit of work's transaction: what the refund use cases (request, the
    gateway's outcome, retries, the e-mails) and the payments' own (an event's cancellation)
    need. The cancellation batches' set-wise reads stay on the SQL store."""

    def cancelled(self, event_id: str) -> bool:
        """Whether the event is cancelled, under its shared lock until the transaction ends."""
        ...

    def add(self, refund: Refund) -> None:
        """A new refund (a second cancellation refund of one payment: AlreadyDone)."""
        ...

    def get(self, refund_id: UUID, lock: bool = False) -> Refund | None:
        """The refund, optionally locked until the transaction ends."""
        ...

    def save(self, refund: Refund) -> None:
        """Write its status (PENDING again: its outcome e-mail is owed anew)."""
        ...

    def of_payment(self, payment_id: UUID) -> list[Refund]:
        """The payment's refunds, oldest first."""
        ...

    def email_sent(self, refund_id: UUID, kind: str) -> bool: ...

    def record_email(self, refund_id: UUID, kind: str, message_id: str, outcome: bool) -> None:
        """An e-mail of `kind` the SMTP server accepted (an `outcome` one ends what the
        self-healing sweep owes the refund)."""
        ...

    def schedule_attempt(self, refund_id: UUID, at: datetime) -> None:
        """When the gateway will be asked again for this PENDING refund."""
        ...


@dataclass(frozen=True)
class Progress:
    """How far one payment got: its status, its transaction's, and whether it was e-mailed."""

    payment_id: UUID
    payment_status: Status
    transaction_id: UUID | None
    transaction_status: Status | None
    email_sent: bool


@dataclass(frozen=True)
class StoredKey:
    """A live Idempotency-Key record: the request it belongs to and, once finished, its
    response."""

    request_hash: str
    response_status: int | None
    response_body: Any
    payment_id: UUID | None

    @property
    def in_flight(self) -> bool:
        """Whether the first request has not finished yet."""
        return self.response_status is None


class IdempotencyStore(Protocol):
    """Idempotency-Key records on a unit of work's transaction. A record is live until it
    expires; an in-flight one (no response yet) whose lease has passed may be taken over."""

    def claim(
        self, scope: str, key: str, request_hash: str, ttl: timedelta, lease: timedelta
    ) -> UUID | None:
        """Take the key for a new request; its claim id, or None when a live record holds it."""
        ...

    def get(self, scope: str, key: str) -> StoredKey | None:
        """The live record of this key, or None."""
        ...

    def finish(
        self,
        scope: str,
        key: str,
        claim_id: UUID,
        status: int,
        body: Any,
        payment_id: UUID | None,
    ) -> bool:
        """Store the claimed request's response; False if the claim was lost meanwhile."""
        ...

    def release(self, scope: str, key: str, claim_id: UUID) -> None:
        """Forget an unfinished claim (its request failed), so that a retry can proceed."""
        ...

    def purge_expired(self, limit: int = 100) -> int:
        """Delete up to `limit` expired records; how many went."""
        ...


class UnitOfWork(Protocol):
    """One atomic change: leaving the block without `commit()` rolls everything back; the
    events recorded by the aggregates become outbox messages in the same commit."""

    @property
    def repo(self) -> Repository:
        """The repository on this unit of work's transaction."""
        ...

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    @property
    def refunds(self) -> RefundStore:
        """Refunds and cancellations on this unit of work's transaction."""
        ...

    @property
    def idempotency(self) -> IdempotencyStore:
        """Idempotency-Key records on this unit of work's transaction."""
        ...

    @property
    def clock(self) -> Callable[[], datetime]:
        """Timezone-aware now (a fixed clock in tests)."""
        ...

    def reading(self) -> AbstractContextManager[UnitOfWork]:
        """The same unit of work for a block that only reads, outside any transaction."""
        ...

    def commit(self) -> None: ...
