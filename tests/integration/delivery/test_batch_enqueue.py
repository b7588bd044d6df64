"""Enqueueing a batch in one Redis round trip (payments.queue.batch) gives Dramatiq's own
consumer exactly the messages, in order, that one-by-one enqueues would, and runs the
broker's enqueue middleware for each."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dramatiq import Middleware

from payments.queue import names
from payments.queue.batch import enqueue_many
from payments.queue.broker import redis_broker
from tests.support import env


class Seen(Middleware):
    def __init__(self) -> None:
        self.before: list[str] = []
        self.after: list[str] = []

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        self.before.append(message.message_id)

    def after_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        self.after.append(message.message_id)


@pytest.fixture
def broker() -> Iterator[Any]:
    namespace = f"test-batch-{uuid.uuid4().hex[:8]}"
    client = redis.Redis.from_url(env.base_env()["REDIS_URL"])
    broker = redis_broker(client, namespace)
    yield broker
    for key in client.scan_iter(match=f"{namespace}:*"):
        client.delete(key)
    client.close()


def consume_all(broker: Any, queue: str, expected: int) -> list[Any]:
    consumer = broker.consume(queue, prefetch=expected, timeout=500)
    got: list[Any] = []
    try:
        for message in consumer:
            if message is None:
                if len(got) >= expected:
                    break
                continue
            got.append(message)
            consumer.ack(message)
            if len(got) == expected:
                break
    finally:
        consumer.close()
    return got


def test_a_batch_reaches_dramatiqs_consumer_whole_and_in_order(broker: Any) -> None:
    seen = Seen()
    broker.add_middleware(seen)
    ids = [str(uuid.uuid4()) for _ in range(7)]
    messages = [names.CHARGE_PAYMENT.message(i, ce_id=f"ce-{n}") for n, i in enumerate(ids)]
    sent = enqueue_many(broker, messages)

    got = consume_all(broker, names.CHARGE_PAYMENT.queue, len(ids))
    assert [m.args[0] for m in got] == ids
    assert [m.options["ce_id"] for m in got] == [f"ce-{n}" for n in range(len(ids))]
    assert {m.actor_name for m in got} == {names.CHARGE_PAYMENT.name}
    assert len({m.options["redis_message_id"] for m in sent}) == len(ids)  # each its own entry
    assert seen.before == seen.after == [m.message_id for m in messages]


def test_a_mixed_batch_lands_on_each_actors_queue(broker: Any) -> None:
    payment, event = str(uuid.uuid4()), "evt-1"
    enqueue_many(
        broker,
        [
            names.CHARGE_PAYMENT.message(payment),
            names.REFUND_CANCELLED_EVENT.message(event),
        ],
    )
    assert names.CHARGE_PAYMENT.queue != names.REFUND_CANCELLED_EVENT.queue
    [on_gateway] = consume_all(broker, names.CHARGE_PAYMENT.queue, 1)
    [on_payments] = consume_all(broker, names.REFUND_CANCELLED_EVENT.queue, 1)
    assert (on_gateway.args[0], on_payments.args[0]) == (payment, event)
