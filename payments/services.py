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
from payments.domain.model import Payment, Status, Transaction
from payments.domain.refund import EventIsCancelled
from payments.domain.secret import PaymentToken
from payments.errors import AlreadyDone, NotFound, NotReady
from payments.ports import Charge, EmailRenderer, Gateway, Mailer, UnitOfWork

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
    opened = _open(uow, payment_id)
    return opened[1] if opened is not None and opened[2] else None


def _open(uow: UnitOfWork, payment_id: UUID) -> tuple[Payment, Transaction, bool] | None:
    """The payment (locked while read) and its one transaction, opened in this unit of work
    when it had none (True), with its `transaction.created` event; None when the payment is
    finished. NotFound for an unknown payment."""
    try:
        with uow:
            found = uow.repo.payment_with_transaction(payment_id, lock=True)
            if found is None:
                raise NotFound(f"payment {payment_id}")
            payment, existing = found
            if payment.status.terminal:
                return None
            if existing is not None:
                return payment, existing, False
            tx = Transaction.open(uuid.uuid4(), payment_id, uow.clock())
            uow.repo.add_transaction(tx)
            uow.commit()
    except AlreadyDone:  # opened by a delivery that raced past the lock: use that one
        with uow.reading():
            found = uow.repo.payment_with_transaction(payment_id)
        if found is None or found[1] is None or found[0].status.terminal:
            return None
        return found[0], found[1], False
    return payment, tx, True


def charge_payment(uow: UnitOfWork, gateway: Gateway, payment_id: UUID) -> Payment | None:
    """The payment's whole charge (contract section 5, one step): open its one transaction,
    ask the gateway, record the answer and settle the payment. None when it was settled
    already.

    The gateway is called outside any database transaction, with the transaction id as its
    idempotency key, so a repeated step (a redelivery, a frozen twin) asks it the same
    question; `TransientGatewayError` propagates so that the caller can retry.
    """
    opened = _open(uow, payment_id)
    if opened is None:
        return None
    payment, tx, _new = opened
    if tx.status.terminal:  # answered, not settled: a payment the previous release left
        return settle(uow, tx.id)
    if tx.gateway_reference is not None:  # waits for the cardholder: the answer comes later
        return None
    decision = gateway.charge(charge_of(payment, tx))
    return record_decision(uow, tx.id, decision)


def charge_of(payment: Payment, tx: Transaction) -> Charge:
    """What the gateway is asked for this payment's transaction (the same every time)."""
    return Charge(
        transaction_id=tx.id,
        payment_id=payment.id,
        token=payment.payment_token,
        amount=payment.amount,
        currency=payment.currency,
        opened_at=tx.created_at,
        reference=tx.gateway_reference,
    )


def record_decision(uow: UnitOfWork, transaction_id: UUID, decision: Decision) -> Payment | None:
    """Complete the transaction with the gateway's decision, erase the token and settle the
    payment, in one unit of work (events in order: transaction, then payment); None if the
    transaction was completed already."""
    try:
        with uow:
            payment = record_in(uow, transaction_id, decision)
            uow.commit()
    except AlreadyDone:
        return None
    return payment


def record_in(uow: UnitOfWork, transaction_id: UUID, decision: Decision) -> Payment | None:
    """`record_decision` inside a unit of work the caller opened and commits (a webhook
    records its event id in the same transaction)."""
    found = uow.repo.transaction_with_payment(
        transaction_id, lock_payment=True, lock_transaction=True
    )
    if found is None:
        raise NotFound(f"transaction {transaction_id}")
    tx, payment = found
    if tx.status.terminal:
        return None
    if decision.status is Status.PENDING:  # 3-D Secure: the outcome comes later
        assert decision.reference is not None
        tx.await_action(decision.reference, decision.client_secret, uow.clock())
        uow.repo.save_transaction(tx)
        return None
    tx.complete(
        decision.status,
        decision.reason,
        uow.clock(),
        reference=decision.reference,
        decline_code=decision.decline_code,
    )
    payment.forget_token()
    uow.repo.save_transaction(tx)
    _settle(uow, payment, tx)
    return payment


def expire_action(uow: UnitOfWork, gateway: Gateway, payment_id: UUID) -> Payment | None:
    """A 3-D Secure authentication not completed within PAYMENT_ACTION_TIMEOUT_S: cancel the
    PaymentIntent first (so that no charge can succeed), then record what the gateway says:
    FAILED `authentication_failed`, or the charge if the cardholder completed it meanwhile.
    None when the payment was settled already. `TransientGatewayError` to retry."""
    with uow.reading():
        found = uow.repo.payment_with_transaction(payment_id)
    if found is None:
        raise NotFound(f"payment {payment_id}")
    payment, tx = found
    if tx is None or not tx.awaits_action:
        return None
    return record_decision(uow, tx.id, gateway.cancel_action(charge_of(payment, tx)))


def give_up_on_gateway(uow: UnitOfWork, gateway: Gateway, payment_id: UUID) -> Payment | None:
    """After the retries ran out with the outcome unknown (contract section 12): have the
    gateway make sure no charge of it can succeed, then record what it found: the charge it
    made, or FAILED `gateway_unavailable`. None if it was answered or settled already.
    `TransientGatewayError` when the gateway cannot tell: the payment stays PENDING for the
    self-healing sweep."""
    with uow.reading():
        found = uow.repo.payment_with_transaction(payment_id)
    if found is None:
        raise NotFound(f"payment {payment_id}")
    payment, tx = found
    if tx is None or tx.status.terminal:  # never opened (never charged), or answered
        return None
    return record_decision(uow, tx.id, gateway.resolve(charge_of(payment, tx)))


def settle(uow: UnitOfWork, transaction_id: UUID) -> Payment | None:
    """Give the payment its finished transaction's outcome; None when it was settled already.

    `record_decision` settles as it records; this is for a payment whose transaction was
    answered by the previous release's flow, which settled in a step of its own.
    """
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
            _settle(uow, payment, tx)
            uow.commit()
    except AlreadyDone:
        return None
    return payment


def _settle(uow: UnitOfWork, payment: Payment, tx: Transaction) -> None:
    payment.settle(tx, uow.clock())
    uow.repo.save_payment(payment)
    if payment.status is Status.SUCCESS:  # a cancelled event's payment: refund it
        refunds.refund_if_cancelled(uow, payment)


def email_kind(payment: Payment) -> str:
    """'approved' for SUCCESS, 'rejected' for FAILED."""
    return "approved" if payment.status is Status.SUCCESS else "rejected"


def notify(uow: UnitOfWork, render: EmailRenderer, mailer: Mailer, payment_id: UUID) -> str | None:
    """Send the payment's one result e-mail; None when it was sent already.

    The payment row stays locked from the check to the record, so two deliveries at once
    send once. Only a crash between the SMTP server's acceptance and the commit can repeat it.
    """
    with uow:
        found = uow.repo.payment_with_transaction(payment_id, lock=True)
        if found is None:
            raise NotFound(f"payment {payment_id}")
        payment, tx = found
        if not payment.status.terminal:
            raise NotReady(f"payment {payment_id} is still PENDING")
        if payment.emailed_at is not None:  # set in the same statement as its record
            return None
        kind = email_kind(payment)
        message_id = mailer.send(render(payment, kind, tx.decline_code if tx else None))
        uow.repo.record_email(payment_id, kind, message_id)
        uow.commit()
    return message_id


def find_payment(uow: UnitOfWork, payment_id: UUID) -> tuple[Payment, Transaction | None] | None:
    """The payment and its transaction, or None."""
    with uow:
        return uow.repo.payment_with_transaction(payment_id)
