"""Use cases: plain functions taking ids (or a command) and a unit of work.

Every step is idempotent: run twice, or after a later step, it changes nothing. The row
locks make concurrent deliveries take turns; should two ever race past them, the database's
unique keys (one transaction per payment, one terminal change per entity) reject the second,
and the repository reports that as `AlreadyDone`: the loser returns "already done".
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar
from uuid import UUID

from payments import refunds
from payments.domain.gateway_rule import Decision
from payments.domain.model import Payment, Reason, Status, Transaction
from payments.domain.refund import EventIsCancelled
from payments.domain.secret import PaymentToken
from payments.errors import AlreadyDone, NotFound, NotReady
from payments.ports import EmailRenderer, Gateway, Mailer, UnitOfWork

U = TypeVar("U", bound=UnitOfWork)


@dataclass(frozen=True)
class PlacePayment:
    user_name: str
    user_email: str
    user_language: str
    event_id: str
    amount: Decimal
    currency: str
    payment_token: PaymentToken
    event_name: str | None = None
    event_description: str | None = None
    event_image_url: str | None = None


def place_payment(
    uow: U,
    command: PlacePayment,
    before_commit: Callable[[U, Payment], None] | None = None,
) -> Payment:
    """Store a new PENDING payment and its `payment.created` event in one transaction;
    `EventIsCancelled` for a payment of a cancelled event.

    `before_commit` runs in that same transaction (the API stores its idempotent response
    there); if it raises, nothing is stored.
    """
    with uow:
        if refunds.event_is_cancelled(uow, command.event_id):
            raise EventIsCancelled(f"event {command.event_id} is cancelled")
        payment = Payment.place(uuid.uuid4(), uow.clock(), **command.__dict__)
        uow.repo.add_payment(payment)
        if before_commit is not None:
            before_commit(uow, payment)
        uow.commit()
    return payment


def open_transaction(uow: UnitOfWork, payment_id: UUID) -> Transaction | None:
    """Create the payment's one transaction; None when it already has one or is finished."""
    try:
        with uow:
            found = uow.repo.payment_with_transaction(payment_id, lock=True)
            if found is None:
                raise NotFound(f"payment {payment_id}")
            payment, existing = found
            if payment.status.terminal or existing is not None:
                return None
            tx = Transaction.open(uuid.uuid4(), payment_id, uow.clock())
            uow.repo.add_transaction(tx)
            uow.commit()
    except AlreadyDone:
        return None
    return tx


def charge(uow: UnitOfWork, gateway: Gateway, transaction_id: UUID) -> Decision | None:
    """Ask the gateway about a PENDING transaction and record its answer; None if done already.

    The gateway is called outside any database transaction, with the transaction id as its
    idempotency key; `TransientGatewayError` propagates so that the caller can retry.
    """
    with uow.reading():
        found = uow.repo.transaction_with_payment(transaction_id)
        if found is None:
            raise NotFound(f"transaction {transaction_id}")
        tx, payment = found
        if tx.status.terminal:
            return None
        token, amount = payment.payment_token, payment.amount
    decision = gateway.charge(transaction_id, token, amount)
    return decision if record_decision(uow, transaction_id, decision) else None


def record_decision(uow: UnitOfWork, transaction_id: UUID, decision: Decision) -> bool:
    """Complete the transaction with the gateway's decision and erase the token; False if done."""
    try:
        with uow:
            found = uow.repo.transaction_with_payment(
                transaction_id, lock_payment=True, lock_transaction=True
            )
            if found is None:
                raise NotFound(f"transaction {transaction_id}")
            tx, payment = found
            if tx.status.terminal:
                return False
            tx.complete(decision.status, decision.reason, uow.clock())
            payment.forget_token()
            uow.repo.save_transaction(tx)
            uow.repo.save_payment(payment)
            uow.commit()
    except AlreadyDone:
        return False
    return True


def give_up_on_gateway(uow: UnitOfWork, transaction_id: UUID) -> bool:
    """Fail the transaction with `gateway_unavailable` after the retries ran out."""
    return record_decision(uow, transaction_id, Decision(Status.FAILED, Reason.GATEWAY_UNAVAILABLE))


def settle(uow: UnitOfWork, transaction_id: UUID) -> Payment | None:
    """Give the payment its transaction's outcome; None when it was settled already."""
    try:
        with uow:
            found = uow.repo.transaction_with_payment(transaction_id, lock_payment=True)
            if found is None:
                raise NotFound(f"transaction {transaction_id}")
            tx, payment = found
            if payment.status.terminal:
                return None
            if not tx.status.terminal:
                raise NotReady(f"transaction {transaction_id} is still {tx.status}")
            payment.settle(tx, uow.clock())
            uow.repo.save_payment(payment)
            if payment.status is Status.SUCCESS:  # a cancelled event's payment: refund it
                refunds.refund_if_cancelled(uow, payment)
            uow.commit()
    except AlreadyDone:
        return None
    return payment


def email_kind(payment: Payment) -> str:
    """'approved' for SUCCESS, 'rejected' for FAILED."""
    return "approved" if payment.status is Status.SUCCESS else "rejected"


def notify(uow: UnitOfWork, render: EmailRenderer, mailer: Mailer, payment_id: UUID) -> str | None:
    """Send the payment's one result e-mail; None when it was sent already.

    The payment row stays locked from the check to the record, so two deliveries at once
    send once. Only a crash between the SMTP server's acceptance and the commit can repeat it.
    """
    with uow:
        payment = uow.repo.get_payment(payment_id, lock=True)
        if payment is None:
            raise NotFound(f"payment {payment_id}")
        if not payment.status.terminal:
            raise NotReady(f"payment {payment_id} is still PENDING")
        if payment.emailed_at is not None:  # set in the same statement as its record
            return None
        kind = email_kind(payment)
        message_id = mailer.send(render(payment, kind))
        uow.repo.record_email(payment_id, kind, message_id)
        uow.commit()
    return message_id


def find_payment(uow: UnitOfWork, payment_id: UUID) -> tuple[Payment, Transaction | None] | None:
    """The payment and its transaction, or None."""
    with uow:
        return uow.repo.payment_with_transaction(payment_id)
