"""Enqueueing a batch of messages in one Redis round trip.

Dramatiq's `RedisBroker.enqueue` runs its `dispatch` script once per message, a round trip
each; the bridge enqueues a whole polled batch at once instead, with the same script, the
same arguments and the same middleware hooks, in one redis-py pipeline. Any other broker (the
stub in tests) gets its messages one by one. Checked against Dramatiq 2.x by
tests/integration/delivery/test_batch_enqueue.py, which has real workers consume them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import dramatiq
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

ENQUEUE = "enqueue"


def enqueue_many(broker: dramatiq.Broker, messages: Sequence[Message[Any]]) -> list[Message[Any]]:
    """Enqueue `messages` in order (one pipeline on Redis); the messages as enqueued."""
    if not isinstance(broker, RedisBroker) or len(messages) < 2:
        return [broker.enqueue(message) for message in messages]
    dispatch = broker.scripts["dispatch"]
    pipeline = broker.client.pipeline(transaction=False)
    sent = []
    for original in messages:
        # As RedisBroker.enqueue: a unique id in Redis (a retried message is a new entry).
        message = original.copy(options={"redis_message_id": str(uuid4())})
        broker.emit_before(ENQUEUE, message, None)
        dispatch(
            keys=[broker.namespace],
            args=[
                ENQUEUE,
                current_millis(),
                message.queue_name,
                broker.broker_id,
                broker.heartbeat_timeout,
                broker.dead_message_ttl,
                broker._should_do_maintenance(ENQUEUE),
                broker._max_unpack_size(),
                message.options["redis_message_id"],
                message.encode(),
            ],
            client=pipeline,
        )
        sent.append(message)
    pipeline.execute()
    for message in sent:
        broker.emit_after(ENQUEUE, message, None)
    return sent
