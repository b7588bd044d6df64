"""What the Dramatiq processes tell operators, installed on the broker of every process.

- the service's log format (text or JSON lines) in the workers too, replacing Dramatiq's;
- one log line per enqueued message, with its actor, message id, CloudEvents id and the
  payment or transaction id it is about (the bridge's side of following a payment);
- a one-line error summary kept in each failed message, shown by `flask dlq list`;
- with WORKER_METRICS_PORT set, Dramatiq's Prometheus metrics (see `tasks.worker_metrics`).
"""

from __future__ import annotations

import inspect
import logging
import multiprocessing
import sys
from typing import Any

import dramatiq
from dramatiq import Middleware

from payments.config import Settings
from tasks.dlq import RecordFailure

log = logging.getLogger("payments.enqueue")

ID_ARGUMENTS = ("payment_id", "transaction_id")


def install(broker: dramatiq.Broker, settings: Settings) -> None:
    """Configure logging and add the operators' middleware to `broker`."""
    from web.logs import configure

    configure(settings)
    broker.add_middleware(RecordFailure())
    broker.add_middleware(LogEnqueue())
    if settings.worker_metrics_port and in_dramatiq_worker():
        from tasks.worker_metrics import worker_metrics

        broker.add_middleware(worker_metrics(settings))


def in_dramatiq_worker() -> bool:
    """Whether this is a process forked by the `dramatiq` command (not the bridge or the API,
    which set the broker up too, to enqueue)."""
    return "dramatiq.cli" in sys.modules and multiprocessing.parent_process() is not None


def named_ids(broker: dramatiq.Broker, message: Any) -> dict[str, str]:
    """The payment/transaction id among the message's arguments, by the actor's parameter names."""
    try:
        fn = broker.get_actor(message.actor_name).fn
    except dramatiq.errors.ActorNotFound:
        return {}
    names = list(inspect.signature(fn).parameters)
    return {
        name: str(value)
        for name, value in zip(names, message.args, strict=False)
        if name in ID_ARGUMENTS
    }


class LogEnqueue(Middleware):
    """One line per enqueued message (a retry scheduled by Dramatiq says so)."""

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        extra = {
            "actor": message.actor_name,
            "message_id": message.message_id,
            "ce_id": message.options.get("ce_id"),
            **named_ids(broker, message),
        }
        if delay:
            log.info(
                "retry of %s scheduled in %.1fs", message.actor_name, delay / 1000, extra=extra
            )
        else:
            log.info("enqueued %s", message.actor_name, extra=extra)
