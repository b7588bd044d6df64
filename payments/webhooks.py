"""The gateway's webhook events (contract section 12): what a payment or refund became after
the gateway first answered (3-D Secure completed or failed, a pending refund finished),
applied once per event id through the same use cases as the workers.

Each event is applied in one unit of work: its id recorded, the state change and its outbox
row; a redelivery finds its id and changes nothing. Events arrive in any order: a terminal
state never changes, so a `payment_failed` after a `succeeded` does nothing. A success
reported for a transaction that had already FAILED (a 3-D Secure completed after its expiry)
is noted as a stray charge, which the janitor refunds in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID, uuid5

from payments import refunds, services
from payments.domain.gateway_rule import Decision
from payments.domain.model import Reason, Status
from payments.domain.refund import RefundFailure
from payments.errors import AlreadyDone, NotFound
from payments.ports import Gateway, RefundOrder, RefundOutcome, UnitOfWork

# The event types applied; any other is acknowledged and ignored.
SUCCEEDED = "payment_intent.succeeded"
PAYMENT_FAILED = "payment_intent.payment_failed"
CANCELED = "payment_intent.canceled"
REFUND_UPDATED = ("refund.updated", "charge.refund.updated", "refund.failed")
APPLIED_TYPES = frozenset({SUCCEEDED, PAYMENT_FAILED, CANCELED, *REFUND_UPDATED})
AUTHENTICATION_FAILURE = "payment_intent_authentication_failure"


@dataclass(frozen=True)
class GatewayEvent:
    """One webhook event, as the use case needs it (the adapter reads Stripe's shape)."""

    id: str
    type: str
    reference: str | None = None  # the PaymentIntent's id
    transaction_id: UUID | None = None  # from the PaymentIntent's metadata
    refund_id: UUID | None = None  # from the Refund's metadata
    status: str | None = None  # the object's status
    decline_code: str | None = None
    error_code: str | None = None


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event id was applied before
    IGNORED = "ignored"  # not ours, not a type we use, or nothing left to change
    STRAY = "stray"  # a charge for a FAILED transaction: to be refunded


def apply_event(uow: UnitOfWork, event: GatewayEvent) -> Outcome:
    """Apply the event once: the state change, its outbox row and the event id commit
    together."""
    if event.type not in APPLIED_TYPES:
        return Outcome.IGNORED
    try:
        with uow:
            if not uow.repo.record_gateway_event(event.id, event.type):
                return Outcome.DUPLICATE
            outcome = _apply(uow, event)
            uow.commit()
    except AlreadyDone:  # a worker recorded the same change at the same moment
        return Outcome.IGNORED
    return outcome


def _apply(uow: UnitOfWork, event: GatewayEvent) -> Outcome:
    if event.type in REFUND_UPDATED:
        return _refund_updated(uow, event)
    if event.transaction_id is None:
        return Outcome.IGNORED
    found = uow.repo.transaction_with_payment(
        event.transaction_id, lock_payment=True, lock_transaction=True
    )
    if found is None:
        return Outcome.IGNORED
    tx, _payment = found
    if event.type == SUCCEEDED:
        if tx.status is Status.FAILED and event.reference is not None:
            added = uow.repo.add_stray_charge(event.reference, tx.id)
            return Outcome.STRAY if added else Outcome.IGNORED
        decision = Decision(Status.SUCCESS, reference=event.reference)
    elif event.type == PAYMENT_FAILED:
        if event.error_code == AUTHENTICATION_FAILURE:
            decision = Decision(Status.FAILED, Reason.AUTHENTICATION_FAILED, event.reference)
        else:
            decision = Decision(
                Status.FAILED,
                Reason.REJECTED_BY_GATEWAY,
                event.reference,
                event.decline_code or event.error_code,
            )
    else:  # canceled: by the expiry sweep, or while resolving an unknown outcome
        reason = Reason.AUTHENTICATION_FAILED if tx.awaits_action else Reason.GATEWAY_UNAVAILABLE
        decision = Decision(Status.FAILED, reason, event.reference)
    if tx.status.terminal:
        return Outcome.IGNORED
    return Outcome.APPLIED if services.record_in(uow, tx.id, decision) else Outcome.IGNORED


def _refund_updated(uow: UnitOfWork, event: GatewayEvent) -> Outcome:
    if event.refund_id is None or event.status not in ("succeeded", "failed", "canceled"):
        return Outcome.IGNORED
    failure = None if event.status == "succeeded" else RefundFailure.GATEWAY_UNAVAILABLE
    try:
        finished = refunds.finish_in(uow, event.refund_id, failure)
    except NotFound:
        return Outcome.IGNORED
    return Outcome.APPLIED if finished else Outcome.IGNORED


# The idempotency key of a stray charge's refund: one per charge, whoever asks again.
STRAY_REFUND_NAMESPACE = UUID("6f1d2c4e-8a3b-4f0e-9c7d-5b2a1e0f3d4c")


def stray_refund_id(reference: str) -> UUID:
    """The refund's idempotency key at the gateway for a stray charge."""
    return uuid5(STRAY_REFUND_NAMESPACE, reference)


def refund_stray(uow: UnitOfWork, gateway: Gateway, reference: str) -> str | None:
    """Refund a stray charge in full (the fan is never charged for a payment that failed):
    'succeeded' or 'failed' as the gateway answered, None when it was settled already.
    `TransientGatewayError` (or `RefundPending`) to ask again later."""
    with uow.reading():
        found = uow.repo.stray_charge(reference)
    if found is None:
        raise NotFound(f"stray charge {reference}")
    transaction_id, currency, settled_at = found
    if settled_at is not None:
        return None
    order = RefundOrder(stray_refund_id(reference), transaction_id, reference, None, currency)
    outcome = gateway.refund(order)
    if outcome is RefundOutcome.PENDING:
        raise refunds.RefundPending(f"the refund of stray charge {reference} is pending")
    result = "succeeded" if outcome is RefundOutcome.SUCCEEDED else "failed"
    with uow:
        uow.repo.settle_stray(reference, result)
        uow.commit()
    return result
