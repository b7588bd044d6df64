"""The refund actors (contract section 9): the same habits as `tasks.actors` (ids in,
idempotent, retries with backoff, dead letters), on the refunds' use cases."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import dramatiq

from payments import backoff, bootstrap, refunds
from payments.domain.gateway_rule import TransientGatewayError
from payments.queue import names
from tasks.actors import (
    COMMON_OPTIONS,
    DB_TIME_LIMIT_MS,
    EMAIL_OPTIONS,
    EMAIL_TIME_LIMIT_MS,
    MAX_RETRIES,
    actor,
    count_gateway_failure,
    log_ids,
)

log = logging.getLogger("payments.worker")

# One message of the cancellation refunds batches for about this long, then hands the rest
# to a fresh message: bounded memory and transaction size (one batch each), and a worker
# killed meanwhile loses at most the batch in flight (rolled back, done again).
CANCELLATION_SLICE_S = 10.0
# A refund the gateway cannot take stays PENDING and is asked for again, 0.5 s, 1 s, 2 s...
# apart, then every 12-15 minutes (jittered), until REFUND_RETRY_HOURS after it was
# requested (72 h by default: as long as Stripe retries its own webhooks); only then is it
# FAILED with gateway_unavailable, which alerts the team (deploy/prometheus/alerts.yml).
REFUND_MIN_BACKOFF_S = 0.5
REFUND_MAX_BACKOFF_S = 15 * 60.0
# A refund the gateway took but reports pending finishes by webhook (contract section 12);
# it is read again no sooner than this, in case a webhook was lost.
REFUND_PENDING_RECHECK_S = 5 * 60.0


def retry_refund(retries: int, exception: BaseException) -> bool:
    """Dramatiq's retry rule for refunds: a gateway outage (`dramatiq.Retry`, raised with its
    own delay) for as long as the refund's window lasts, anything else MAX_RETRIES times."""
    return isinstance(exception, dramatiq.Retry) or retries < MAX_RETRIES


@actor(
    names.PROCESS_REFUND,
    retry_when=retry_refund,
    **COMMON_OPTIONS,
)
def process_refund(refund_id: str) -> None:
    """refund.pending -> refund through the gateway (refund id as its idempotency key)."""
    container = bootstrap.current()
    try:
        status = refunds.refund_through_gateway(container.uow(), container.gateway, UUID(refund_id))
    except TransientGatewayError as err:
        attempt = count_gateway_failure()
        wait = backoff.delay(attempt - 1, REFUND_MIN_BACKOFF_S, REFUND_MAX_BACKOFF_S)
        if isinstance(err, refunds.RefundPending):  # taken: its webhook says when it is done
            wait = max(wait, REFUND_PENDING_RECHECK_S)
        settings = container.settings
        decided = refunds.retry_refund_later(
            container.uow(),
            UUID(refund_id),
            timedelta(seconds=wait),
            timedelta(hours=float(settings.refund_retry_hours)),
            notice_after(settings.refund_delay_notice_hours),
        )
        if decided is refunds.Retry.LATER_TELL_FAN:  # the one "refund on its way" e-mail
            names.send(container.broker, names.SEND_REFUND_EMAIL, refund_id)
        if decided in (refunds.Retry.LATER, refunds.Retry.LATER_TELL_FAN):
            log.warning(
                "gateway unavailable for a refund (%s), attempt %d, again in %.1f s",
                err,
                attempt,
                wait,
                extra=log_ids(refund_id=refund_id),
            )
            raise dramatiq.Retry(delay=int(wait * 1000)) from None
        if decided is refunds.Retry.GAVE_UP:
            log.error(
                "refund FAILED: the gateway was unavailable for REFUND_RETRY_HOURS",
                extra=log_ids(refund_id=refund_id),
            )
            return
        status = None
    log.info("refund %s", status or "already finished", extra=log_ids(refund_id=refund_id))


def notice_after(hours: Decimal) -> timedelta:
    """REFUND_DELAY_NOTICE_HOURS as a duration."""
    return timedelta(hours=float(hours))


@actor(names.SEND_REFUND_EMAIL, time_limit=EMAIL_TIME_LIMIT_MS, **EMAIL_OPTIONS)
def send_refund_email(refund_id: str) -> None:
    """refund.succeeded/failed -> the one e-mail of the refund's outcome, in the payment's
    language; for a refund PENDING past REFUND_DELAY_NOTICE_HOURS, the one "refund on its
    way" e-mail."""
    container = bootstrap.current()
    message_id = refunds.notify_refund(
        container.uow(),
        container.refund_renderer,
        container.mailer,
        UUID(refund_id),
        notice_after(container.settings.refund_delay_notice_hours),
    )
    log.info(
        "refund e-mail %s",
        f"sent {message_id}" if message_id else "already sent",
        extra=log_ids(refund_id=refund_id),
    )


@actor(names.REFUND_CANCELLED_EVENT, time_limit=DB_TIME_LIMIT_MS * 4, **COMMON_OPTIONS)
def refund_cancelled_event(event_id: str) -> None:
    """event.cancelled -> refund the event's paid payments, batch after batch."""
    container = bootstrap.current()
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
