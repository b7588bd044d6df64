"""The actors: each takes ids, opens a unit of work through a use case, and is idempotent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from uuid import UUID

import dramatiq
from dramatiq.middleware import CurrentMessage

from payments import bootstrap, services
from payments.domain.gateway_rule import TransientGatewayError
from payments.domain.model import Payment
from payments.errors import NotFound
from payments.queue import names

log = logging.getLogger("payments.worker")

# How the actors use Dramatiq, on purpose:
# - Delivery is at least once (Kafka redelivers, the bridge may enqueue twice, a worker killed
#   with SIGKILL has its unacked messages requeued once its heartbeat is stale, operators
#   re-drive), so every actor is idempotent: a duplicate, or a message arriving after a later
#   step, finds its work done and only logs. Row locks serialize concurrent deliveries; the
#   unique keys of transactions, status_changes and sent_emails are the last guard, and a
#   unique violation from a lost race counts as "already done" (`AlreadyDone`).
# - Retries: infrastructure errors (database, SMTP) and `NotReady` (a step asked for before
#   its precondition, which only a manual re-drive can do) are retried with exponential
#   backoff from MIN_BACKOFF_MS, capped at MAX_BACKOFF_MS, MAX_RETRIES times (about an hour
#   in all), so that a database outage of any sensible length is ridden out.
# - Dead letters: once retries run out, Dramatiq moves the message to the queue's dead-letter
#   set (kept DEAD_MESSAGE_TTL_MS, see tasks/broker.py) for `flask dlq retry`; the payment
#   also stays visible to `flask payments reprocess --stuck-for`.
# - `throws=NotFound`: a message naming an unknown payment or transaction can never succeed
#   (an event of another database sharing the topics); it is dead-lettered at once, without
#   retries or a traceback.
# - Time limits bound a stuck call (a database lock wait); the TimeLimitExceeded then counts
#   as a failure and is retried. They follow from the settings, so that no setting makes
#   every attempt time out: a gateway actor's is the gateway call's timeout
#   (GATEWAY_TIMEOUT_MS) plus the database's allowance. The e-mail actor has none that could
#   interrupt it between the SMTP server's 250 and recording the e-mail (a second e-mail):
#   each SMTP exchange is bounded by SMTP_TIMEOUT_S instead, and the row it records under
#   is locked before sending.
MAX_RETRIES = 16
MIN_BACKOFF_MS = 200
MAX_BACKOFF_MS = 5 * 60 * 1000
DB_TIME_LIMIT_MS = 30_000
# A gateway call whose outcome is unknown (a 429, 409, 5xx, timeout or lost answer) is retried
# with the same idempotency key this many times; then the charge is resolved (contract
# section 12: any attempt found is cancelled, or the charge it made recorded) before
# gateway_unavailable. They are counted apart from other failures (`gateway_failures` in
# the message's options), so that a database outage does not use up the gateway's retries.
GATEWAY_RETRIES = 5
# E-mail: the SMTP server may be down for a while. Retry soon at first (0.5 s, 1 s, 2 s...),
# then every 15-30 s (Dramatiq's jitter) so that mail goes out soon after the server
# returns; 250 retries keep trying for over an hour (at least 61 min, about 90 on average).
EMAIL_MAX_RETRIES = 250
EMAIL_MIN_BACKOFF_MS = 500
EMAIL_MAX_BACKOFF_MS = 30_000
# Dramatiq wants a number: a day is "none" for a send bounded by its socket timeouts.
EMAIL_TIME_LIMIT_MS = 24 * 3600 * 1000


def gateway_time_limit_ms(gateway_timeout_ms: int) -> int:
    """A gateway actor's time limit: the gateway call's own timeout never reaches it."""
    return gateway_timeout_ms + DB_TIME_LIMIT_MS


COMMON_OPTIONS: dict[str, Any] = {
    "max_retries": MAX_RETRIES,
    "min_backoff": MIN_BACKOFF_MS,
    "max_backoff": MAX_BACKOFF_MS,
    "throws": (NotFound,),
}


def actor(ref: names.ActorRef, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Declare an actor under the name and queue `payments.queue.names` gives it."""
    return dramatiq.actor(actor_name=ref.name, queue_name=ref.queue, **options)


def limit_gateway_calls(broker: dramatiq.Broker, gateway_timeout_ms: int) -> None:
    """Give every actor on the gateway queue its time limit (`gateway_time_limit_ms`), once
    all are declared: set from the settings by the worker's start, so that no actor module
    reads a setting when it is imported."""
    limit = gateway_time_limit_ms(gateway_timeout_ms)
    for ref in names.ALL:
        if ref.queue == names.GATEWAY_QUEUE:
            broker.get_actor(ref.name).options["time_limit"] = limit


def log_ids(**ids: object) -> dict[str, object]:
    message = CurrentMessage.get_current_message()
    extra: dict[str, object] = {k: str(v) for k, v in ids.items()}
    if message is not None:
        extra["message_id"] = message.message_id
        if "ce_id" in message.options:
            extra["ce_id"] = message.options["ce_id"]
    return extra


def count_gateway_failure() -> int:
    """Count one more transient gateway failure on the current message; the count so far."""
    message = CurrentMessage.get_current_message()
    if message is None:  # called directly, not by a worker: no retries to count
        return 1
    failures = int(message.options.get("gateway_failures", 0)) + 1
    message.options["gateway_failures"] = failures  # re-enqueued with the retry
    return failures


@actor(names.CHARGE_PAYMENT, **COMMON_OPTIONS)
def charge_payment(payment_id: str) -> None:
    """payment.created -> open the transaction, charge through the gateway, settle."""
    container = bootstrap.current()
    try:
        payment = services.charge_payment(container.uow(), container.gateway, UUID(payment_id))
    except TransientGatewayError as err:
        if err.retry and count_gateway_failure() <= GATEWAY_RETRIES:
            log.warning(
                "gateway outcome unknown, will retry with the same key: %s",
                err,
                extra=log_ids(payment_id=payment_id),
            )
            raise
        try:  # make sure no charge can succeed, then FAILED (or the charge found)
            payment = services.give_up_on_gateway(
                container.uow(), container.gateway, UUID(payment_id)
            )
        except TransientGatewayError as unresolved:
            log.warning(
                "gateway retries exhausted and the outcome still unknown (%s): the payment"
                " stays PENDING for the self-healing sweep",
                unresolved,
                extra=log_ids(payment_id=payment_id),
            )
            return
        log.warning("gateway retries exhausted", extra=log_ids(payment_id=payment_id))
    outcome = payment_outcome(payment)
    log.info("payment %s", outcome, extra=log_ids(payment_id=payment_id))


def payment_outcome(payment: Payment | None) -> str:
    """How a charge ended, for the log: 'SUCCESS', 'FAILED rejected_by_gateway', or
    'already settled'."""
    if payment is None:
        return "already settled"
    return f"{payment.status} {payment.failure_reason or ''}".strip()


EMAIL_OPTIONS: dict[str, Any] = {
    **COMMON_OPTIONS,
    "max_retries": EMAIL_MAX_RETRIES,
    "min_backoff": EMAIL_MIN_BACKOFF_MS,
    "max_backoff": EMAIL_MAX_BACKOFF_MS,
}


@actor(names.SEND_PAYMENT_EMAIL, time_limit=EMAIL_TIME_LIMIT_MS, **EMAIL_OPTIONS)
def send_payment_email(payment_id: str) -> None:
    """payment.succeeded/failed -> send the one result e-mail in the payment's language."""
    container = bootstrap.current()
    message_id = services.notify(
        container.uow(), container.renderer, container.mailer, UUID(payment_id)
    )
    log.info(
        "e-mail %s",
        f"sent {message_id}" if message_id else "already sent",
        extra=log_ids(payment_id=payment_id),
    )
