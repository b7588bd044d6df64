"""The 3-D Secure actors (contract section 12): the same habits as `tasks.actors` (ids in,
idempotent, retries with backoff, dead letters)."""

from __future__ import annotations

import logging
from uuid import UUID

from payments import bootstrap, services, webhooks
from payments.queue import names
from tasks.actors import COMMON_OPTIONS, actor, log_ids, payment_outcome

log = logging.getLogger("payments.worker")


@actor(names.EXPIRE_PAYMENT_ACTION, **COMMON_OPTIONS)
def expire_payment_action(payment_id: str) -> None:
    """A 3-D Secure authentication not completed in time: cancel the PaymentIntent, then
    FAILED authentication_failed (or the charge, if the cardholder completed it first). A
    gateway that cannot be reached raises: retried with backoff like any failure."""
    container = bootstrap.current()
    payment = services.expire_action(container.uow(), container.gateway, UUID(payment_id))
    log.info(
        "3-D Secure expired: %s", payment_outcome(payment), extra=log_ids(payment_id=payment_id)
    )


@actor(names.REFUND_STRAY_CHARGE, **COMMON_OPTIONS)
def refund_stray_charge(gateway_reference: str) -> None:
    """A charge that succeeded for a payment that had failed: refund it in full."""
    container = bootstrap.current()
    outcome = webhooks.refund_stray(container.uow(), container.gateway, gateway_reference)
    level = logging.ERROR if outcome == "failed" else logging.WARNING
    log.log(
        level,
        "stray charge refund %s",
        outcome or "already settled",
        extra=log_ids(gateway_reference=gateway_reference),
    )
