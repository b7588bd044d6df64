"""The Dramatiq middleware every process's broker carries (one concept each, kept small).

- `RecordFailure` keeps a one-line summary of a message's last error in its options, so that
  a dead letter says why it died (`flask dlq list`);
- `LogEnqueue` logs one line per enqueued message, with its actor, message id, CloudEvents
  id and the payment or transaction id it is about (the bridge's side of following a
  payment); the id's name comes from `payments.queue.names`, no actor need be declared.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq import Middleware
from dramatiq.brokers.redis import RedisBroker

from payments.errors import summary
from payments.queue.dead_letters import ERROR_OPTION, REWRITE, SUMMARY_LIMIT, canonical_queue
from payments.queue.names import BY_NAME

log = logging.getLogger("payments.enqueue")


def named_ids(message: Any) -> dict[str, str]:
    """The payment/transaction id a message is about, named after its actor's argument."""
    actor = BY_NAME.get(message.actor_name)
    if actor is None or not message.args:
        return {}
    return {actor.argument: str(message.args[0])}


class LogEnqueue(Middleware):
    """One line per enqueued message (a retry scheduled by Dramatiq says so)."""

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        extra = {
            "actor": message.actor_name,
            "message_id": message.message_id,
            "ce_id": message.options.get("ce_id"),
            **named_ids(message),
        }
        if delay:
            log.info(
                "retry of %s scheduled in %.1fs", message.actor_name, delay / 1000, extra=extra
            )
        else:
            log.info("enqueued %s", message.actor_name, extra=extra)


class RecordFailure(Middleware):
    """Keeps a one-line summary of a message's last error in its options, so that the dead
    letter says why it died (Dramatiq itself keeps none for messages that are not retried)."""

    def after_process_message(
        self,
        broker: Any,
        message: Any,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is not None:
            message.options[ERROR_OPTION] = summary(exception, SUMMARY_LIMIT)

    def after_nack(self, broker: Any, message: Any) -> None:
        redis_id = message.options.get("redis_message_id")
        if not isinstance(broker, RedisBroker) or not redis_id:
            return
        key = f"{broker.namespace}:{canonical_queue(message.queue_name)}.XQ.msgs"
        broker.client.register_script(REWRITE)(keys=[key], args=[redis_id, message.encode()])
