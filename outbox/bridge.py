"""The Kafka bridge: one consumer group over the topics, each topic mapped to its actor.

At least once: the offsets of a polled batch are committed only after every message of it
was enqueued to Dramatiq. A failed enqueue rewinds the batch's partitions and backs off.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from outbox import backoff
from payments.config import Settings

log = logging.getLogger("payments.bridge")


@dataclass(frozen=True)
class Route:
    """Which actor a topic's events go to, and which field of the event is its argument."""

    enqueue: Callable[..., Any]
    id_field: str


class PoisonMessage(Exception):
    """An event that can never be routed (bad JSON, missing id); logged and skipped."""


def header(record: Any, name: str) -> str | None:
    """A record header's value as text."""
    for key, value in record.headers or ():
        if key == name:
            return value.decode("utf-8", "replace") if value is not None else None
    return None


def dispatch(record: Any, routes: Mapping[str, Route]) -> None:
    """Enqueue the actor message for one Kafka record (PoisonMessage if it cannot be)."""
    route = routes.get(record.topic)
    if route is None:
        raise PoisonMessage(f"no route for topic {record.topic}")
    try:
        value = json.loads(record.value)
        entity_id = str(value[route.id_field])
    except (ValueError, TypeError, KeyError) as err:
        raise PoisonMessage(f"undecodable event: {type(err).__name__}") from None
    route.enqueue(entity_id, ce_id=header(record, "ce_id"))


def routes_for(settings: Settings) -> dict[str, Route]:
    """Topic -> actor, as contract section 5 says."""
    import tasks

    def sender(actor: Any) -> Callable[..., Any]:
        return lambda entity_id, ce_id=None: actor.send_with_options(args=(entity_id,), ce_id=ce_id)

    t = settings.topics
    return {
        t.payment_created: Route(sender(tasks.create_transaction), "payment_id"),
        t.transaction_created: Route(sender(tasks.process_transaction), "transaction_id"),
        t.transaction_succeeded: Route(sender(tasks.settle_payment), "transaction_id"),
        t.transaction_failed: Route(sender(tasks.settle_payment), "transaction_id"),
        t.payment_succeeded: Route(sender(tasks.send_payment_email), "payment_id"),
        t.payment_failed: Route(sender(tasks.send_payment_email), "payment_id"),
    }


def make_consumer(settings: Settings, topics: list[str]) -> KafkaConsumer:
    """A consumer in the bridge's group, committing by hand."""
    return KafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        group_id=settings.kafka_group_id,
        client_id="payments-bridge",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=30_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_records=500,
    )


class Bridge:
    """Polls, enqueues, commits."""

    def __init__(self, consumer_factory: Callable[[], Any], routes: Mapping[str, Route]):
        self.consumer_factory = consumer_factory
        self.routes = routes
        self.enqueued = 0

    def handle_batch(self, consumer: Any, batch: Mapping[TopicPartition, list[Any]]) -> int:
        """Enqueue every record of a polled batch, then commit; rewind on failure."""
        count = 0
        for tp, records in batch.items():
            for record in records:
                try:
                    dispatch(record, self.routes)
                    count += 1
                except PoisonMessage as err:
                    log.error("skipping %s[%d]@%d: %s", tp.topic, tp.partition, record.offset, err)
                except Exception:
                    for rewind_tp, rewind_records in batch.items():
                        consumer.seek(rewind_tp, rewind_records[0].offset)
                    raise
        consumer.commit()
        self.enqueued += count
        return count

    def run(self, stop: threading.Event) -> None:
        """Bridge until `stop` is set; back off while Kafka or Redis fail."""
        failures = 0
        consumer = None
        try:
            while not stop.is_set():
                try:
                    if consumer is None:
                        consumer = self.consumer_factory()
                    batch = consumer.poll(timeout_ms=200)
                    if batch:
                        self.handle_batch(consumer, batch)
                    failures = 0
                except Exception as err:
                    wait = backoff.delay(failures)
                    failures += 1
                    log.warning(
                        "bridge attempt failed (%s: %s); retrying in %.1fs",
                        type(err).__name__,
                        str(err).splitlines()[0] if str(err) else "",
                        wait,
                    )
                    backoff.sleep(stop, wait)
        finally:
            if consumer is not None:
                consumer.close(autocommit=False)
