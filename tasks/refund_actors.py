"""The refund actors (contract section 9): the same habits as `tasks.actors` (ids in,
idempotent, retries with backoff, dead letters), on the refunds' use cases."""

from __future__ import annotations

import logging
import time
from uuid import UUID

from payments import refunds
from payments.domain.gateway_rule import TransientGatewayError
from payments.queue import actors as names
from tasks import runtime
from tasks.actors import (
    COMMON_OPTIONS,
    DB_TIME_LIMIT_MS,
    EMAIL_OPTIONS,
    EMAIL_TIME_LIMIT_MS,
    GATEWAY_RETRIES,
    actor,
    count_gateway_failure,
    gateway_time_limit_ms,
    log_ids,
)

log = logging.getLogger("payments.worker")

# One message of the cancellation refunds batches for about this long, then hands the rest
# to a fresh message: bounded memory and transaction size (one batch each), and a worker
# killed meanwhile loses at most the batch in flight (rolled back, done again).
CANCELLATION_SLICE_S = 10.0


@actor(
    names.PROCESS_REFUND,
    time_limit=gateway_time_limit_ms(runtime.container().settings.gateway_timeout_ms),
    **COMMON_OPTIONS,
)
def process_refund(refund_id: str) -> None:
    """refund.pending -> refund through the gateway (refund id as its idempotency key)."""
    container = runtime.container()
    try:
        status = refunds.refund_through_gateway(container.uow(), container.gateway, UUID(refund_id))
    except TransientGatewayError:
        if count_gateway_failure() <= GATEWAY_RETRIES:
            log.warning(
                "gateway unavailable for a refund, will retry", extra=log_ids(refund_id=refund_id)
            )
            raise
        refunds.give_up_refund(container.uow(), UUID(refund_id))
        log.warning("gateway retries exhausted for a refund", extra=log_ids(refund_id=refund_id))
        return
    log.info("refund %s", status or "already finished", extra=log_ids(refund_id=refund_id))


@actor(names.SEND_REFUND_EMAIL, time_limit=EMAIL_TIME_LIMIT_MS, **EMAIL_OPTIONS)
def send_refund_email(refund_id: str) -> None:
    """refund.succeeded/failed -> the one e-mail of the refund's outcome, in the payment's
    language."""
    container = runtime.container()
    message_id = refunds.notify_refund(
        container.uow(), container.refund_renderer, container.mailer, UUID(refund_id)
    )
    log.info(
        "refund e-mail %s",
        f"sent {message_id}" if message_id else "already sent",
        extra=log_ids(refund_id=refund_id),
    )


@actor(names.REFUND_CANCELLED_EVENT, time_limit=DB_TIME_LIMIT_MS * 4, **COMMON_OPTIONS)
def refund_cancelled_event(event_id: str) -> None:
    """event.cancelled -> refund the event's paid payments, batch after batch."""
    container = runtime.container()
    deadline = time.monotonic() + CANCELLATION_SLICE_S
    total = 0
    while True:
        batch = refunds.refund_cancellation_batch(container.uow(), event_id)
        total += batch.refunded
        if batch.finished:
            log.info(
                "cancellation refunds all created (%d in this run)",
                total,
                extra=log_ids(event_id=event_id),
            )
            return
        if time.monotonic() >= deadline:
            break
    names.send(container.broker, names.REFUND_CANCELLED_EVENT, event_id)
    log.info(
        "cancellation refunds: %d created, continuing", total, extra=log_ids(event_id=event_id)
    )
