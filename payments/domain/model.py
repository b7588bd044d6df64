"""Payment and transaction state machines.

Payment: PENDING -> SUCCESS | FAILED. Transaction (one per payment): PENDING -> SUCCESS | FAILED.
Terminal states never change; an illegal transition raises `IllegalTransition`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from payments.domain import facts
from payments.domain.secret import PaymentToken
from payments.errors import PaymentsError


class Status(StrEnum):
    PENDING = "PENDING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self is not Status.PENDING


class Reason(StrEnum):
    INVALID_PAYMENT_DATA = "invalid_payment_data"
    REJECTED_BY_GATEWAY = "rejected_by_gateway"
    GATEWAY_UNAVAILABLE = "gateway_unavailable"
    AUTHENTICATION_FAILED = "authentication_failed"  # 3-D Secure not completed (section 12)


class DomainError(PaymentsError):
    """Base of every error the domain raises."""


class IllegalTransition(DomainError):
    """A state change the state machine does not allow."""


@dataclass
class Transaction:
    id: UUID
    payment_id: UUID
    status: Status
    reason: Reason | None
    created_at: datetime
    updated_at: datetime
    # The gateway's own id for the charge (a Stripe PaymentIntent, `pi_...`) once it answered,
    # and the issuer's reason for a decline (`insufficient_funds`), contract section 12.
    gateway_reference: str | None = None
    decline_code: str | None = None
    # While the cardholder is asked to authenticate (3-D Secure): the PaymentIntent's client
    # secret, which only the front end's Stripe.js needs; erased once the transaction ends.
    action_secret: str | None = None
    facts: list[facts.Fact] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def open(cls, transaction_id: UUID, payment_id: UUID, now: datetime) -> Transaction:
        """A new PENDING transaction for a payment, recording `TransactionCreated`."""
        tx = cls(transaction_id, payment_id, Status.PENDING, None, now, now)
        tx.facts.append(facts.TransactionCreated(transaction_id, payment_id))
        return tx

    def complete(
        self,
        outcome: Status,
        reason: Reason | None,
        now: datetime,
        reference: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        """Move PENDING to SUCCESS or FAILED (with a reason), recording the event; the
        gateway's reference and decline code are kept when it gave them."""
        if self.status.terminal:
            raise IllegalTransition(f"transaction {self.id} is already {self.status}")
        if outcome is Status.SUCCESS and reason is None:
            self.facts.append(facts.TransactionSucceeded(self.id, self.payment_id))
        elif outcome is Status.FAILED and reason is not None:
            self.facts.append(facts.TransactionFailed(self.id, self.payment_id, reason.value))
        else:
            raise IllegalTransition(f"transaction cannot become {outcome} with reason {reason}")
        self.status, self.reason, self.updated_at = outcome, reason, now
        self.gateway_reference = reference or self.gateway_reference
        self.decline_code = decline_code
        self.action_secret = None

    @property
    def awaits_action(self) -> bool:
        """Whether the cardholder is asked to authenticate (PENDING, the gateway answered)."""
        return self.status is Status.PENDING and self.gateway_reference is not None

    def await_action(self, reference: str, secret: str | None, now: datetime) -> None:
        """The gateway waits for the cardholder (3-D Secure): still PENDING, its reference
        kept so that the outcome can be matched when it arrives, and the client secret the
        front end needs meanwhile."""
        if self.status.terminal:
            raise IllegalTransition(f"transaction {self.id} is already {self.status}")
        self.gateway_reference, self.action_secret, self.updated_at = reference, secret, now


@dataclass
class Payment:
    id: UUID
    status: Status
    user_name: str
    user_email: str
    user_language: str
    event_id: str
    amount: Decimal
    currency: str
    created_at: datetime
    updated_at: datetime
    event_name: str | None = None
    event_description: str | None = None
    event_image_url: str | None = None
    payment_token: PaymentToken | None = field(default=None, repr=False)
    failure_reason: Reason | None = None
    amount_reserved: Decimal = Decimal(0)  # every refund not FAILED (payments.domain.refund)
    emailed_at: datetime | None = None  # when the SMTP server accepted its result e-mail
    facts: list[facts.Fact] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.payment_token, str):  # a plain string never travels further
            self.payment_token = PaymentToken(self.payment_token)

    @classmethod
    def place(cls, payment_id: UUID, now: datetime, **details: Any) -> Payment:
        """A new PENDING payment, recording `PaymentCreated`; `details` are its other fields."""
        payment = cls(
            id=payment_id, status=Status.PENDING, created_at=now, updated_at=now, **details
        )
        payment.facts.append(facts.PaymentCreated(payment_id))
        return payment

    def settle(self, transaction: Transaction, now: datetime) -> None:
        """Take the transaction's terminal outcome, recording PaymentSucceeded or PaymentFailed."""
        if transaction.payment_id != self.id:
            raise IllegalTransition(f"transaction {transaction.id} is not of payment {self.id}")
        if self.status.terminal:
            raise IllegalTransition(f"payment {self.id} is already {self.status}")
        if not transaction.status.terminal:
            raise IllegalTransition(f"transaction {transaction.id} has not finished")
        self.status, self.updated_at = transaction.status, now
        if transaction.status is Status.SUCCESS:
            self.facts.append(facts.PaymentSucceeded(self.id))
        else:
            assert transaction.reason is not None
            self.failure_reason = transaction.reason
            self.facts.append(facts.PaymentFailed(self.id, transaction.reason.value))

    def forget_token(self) -> None:
        """Erase the payment token once the gateway has answered."""
        self.payment_token = None
