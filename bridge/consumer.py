"""The Kafka bridge: one consumer group over the topics, each topic mapped to its actor.

At least once, across restarts and rebalances:

- Offsets are committed by hand, only after every record of the polled batch was enqueued
  to Dramatiq (or logged and skipped as poison). The batch's messages are enqueued together,
  in one Redis round trip (`payments.queue.batch`). A process killed before the commit leaves
  the batch to whoever owns the partitions next; it is enqueued again (the actors are
  idempotent).
- A failed enqueue (Redis down) rewinds every partition of the batch to its first record,
  commits nothing, and backs off exponentially; the next poll starts from the rewind.
- A commit that fails because the group rebalanced meanwhile (`CommitFailedError`) is not an
  error of ours: the records were enqueued, the new owner starts from the last committed
  offset and enqueues them again. The consumer rejoins on its next poll.
- Processing is synchronous inside the poll loop, so when a rebalance revokes partitions
  (which happens inside `poll`) every earlier batch was already enqueued and committed, or
  rewound. The rebalance listener only logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import CommitFailedError, KafkaError

from payments import backoff
from payments.config import Settings
from payments.errors import PaymentsError, summary
from payments.queue import names
from payments.queue.batch import enqueue_many

log = logging.getLogger("payments.bridge")

# Consecutive Kafka failures after which the consumer is closed and built again.
RECREATE_AFTER = 5
# A member that leaves its group (LeaveGroup) before the group's first join completed can
# leave the group unable to assign partitions to anyone, for good (measured with Tansu 0.6
# and kafka-python 3.0); one that just goes away is dropped after its session timeout. So a
# bridge stopped while unassigned first waits this long to finish joining, and if it still
# has no partition, goes without LeaveGroup.
JOIN_GRACE_S = 8.0
# Subscribed this long without a single partition: say so loudly (and again every as long).
UNASSIGNED_ALARM_S = 30.0
# ... and this long: give up this member (without LeaveGroup, see JOIN_GRACE_S) and join
# again as a new one. Whatever the group does, payments still move meanwhile: the relay's
# janitor re-drives every payment idle for STUCK_AFTER_SECONDS straight from PostgreSQL.
REJOIN_AFTER_S = 90.0


def _ignore(*_args: Any) -> None:
    return None


@dataclass(frozen=True)
class BridgeHooks:
    """What the bridge reports as it goes (bridge.observe counts it for Prometheus)."""

    on_enqueued: Callable[[int], None] = _ignore  # records of a batch, enqueued
    on_skipped: Callable[[], None] = _ignore  # a poison record logged and skipped
    on_error: Callable[[BaseException], None] = _ignore  # a failed attempt, then a backoff
    # After every poll: partitions held, and seconds subscribed without any (0 when some).
    on_assignment: Callable[[int, float], None] = _ignore


@dataclass(frozen=True)
class Route:
    """Which actor a topic's events go to, and which field of the event is its argument;
    `batch` holds what `enqueue` gathered until the polled batch is read through."""

    enqueue: Callable[..., Any]
    id_field: str
    batch: Batch | None = None


class PoisonMessage(PaymentsError):
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


class Batch:
    """The actor messages of one polled batch, enqueued together (one Redis round trip) when
    the batch has been read through."""

    def __init__(self, broker: Any):
        self.broker = broker
        self.pending: list[Any] = []

    def sender(self, actor: names.ActorRef) -> Callable[..., None]:
        """An enqueue for `actor` that waits for `flush`."""

        def enqueue(entity_id: str, ce_id: str | None = None) -> None:
            self.pending.append(actor.message(entity_id, ce_id=ce_id))

        return enqueue

    def flush(self) -> None:
        """Enqueue everything pending, in order (raises, sending nothing more, on failure)."""
        pending, self.pending = self.pending, []
        enqueue_many(self.broker, pending)

    def discard(self) -> None:
        """Forget what is pending (the batch is being rewound)."""
        self.pending = []


def routes_for(settings: Settings, batch: Batch) -> dict[str, Route]:
    """Topic -> actor, as contract section 5 says; enqueued by name, a batch at a time."""

    def route(actor: names.ActorRef, id_field: str) -> Route:
        return Route(batch.sender(actor), id_field, batch)

    t = settings.topics
    return {
        t.payment_created: route(names.CHARGE_PAYMENT, "payment_id"),
        t.payment_succeeded: route(names.SEND_PAYMENT_EMAIL, "payment_id"),
        t.payment_failed: route(names.SEND_PAYMENT_EMAIL, "payment_id"),
        t.refund_pending: route(names.PROCESS_REFUND, "refund_id"),
        t.refund_succeeded: route(names.SEND_REFUND_EMAIL, "refund_id"),
        t.refund_failed: route(names.SEND_REFUND_EMAIL, "refund_id"),
        t.event_cancelled: route(names.REFUND_CANCELLED_EVENT, "event_id"),
    }


class LogRebalance(ConsumerRebalanceListener):
    """Logs partition moves (the callbacks run on the consumer's I/O loop: no blocking here)."""

    def on_partitions_revoked(self, revoked: Any) -> None:
        if revoked:
            log.info("partitions revoked: %s", _names(revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("partitions assigned: %s", _names(assigned))


def _names(partitions: Any) -> str:
    return ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)) or "none"


def make_consumer(settings: Settings, topics: list[str]) -> KafkaConsumer:
    """A consumer in the bridge's group, committing by hand.

    `max_poll_interval_ms` also bounds how long a join waits for members that went away
    (kafka-python uses it as the rebalance timeout): 30 s keeps rejoins quick, and is far
    above a batch's enqueue time. A member killed with SIGKILL is dropped after
    `session_timeout_ms`.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        group_id=settings.kafka_group_id,
        client_id="payments-bridge",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=30_000,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_records=500,
        bootstrap_timeout_ms=10_000,  # a broker that is down fails the constructor this soon
        # Latency: a fetch finding nothing new is held by the broker up to this long, and
        # some brokers (Tansu) hold it that long even when records arrive meanwhile; the
        # default (500 ms) adds ~130 ms per hop, four hops per payment; 50 ms costs ~6% of a
        # core while idle (20 ms: 11%).
        fetch_max_wait_ms=50,
    )
    consumer.subscribe(topics, listener=LogRebalance())
    return consumer


class Bridge:
    """Polls, enqueues, commits."""

    def __init__(
        self,
        consumer_factory: Callable[[], Any],
        routes: Mapping[str, Route],
        retry: backoff.Backoff | None = None,
        hooks: BridgeHooks | None = None,
    ):
        self.consumer_factory = consumer_factory
        self.routes = routes
        self.retry = retry or backoff.Backoff()
        self.hooks = hooks or BridgeHooks()
        # Every batch the routes gather into, flushed once the polled records are read.
        self.batches = list({id(r.batch): r.batch for r in routes.values() if r.batch}.values())
        self.enqueued = 0
        self.skipped = 0
        self.unassigned_s = 0.0  # how long the current consumer has held no partition
        self.rejoins = 0  # consumers given up for holding no partition

    def handle_batch(self, consumer: Any, batch: Mapping[TopicPartition, list[Any]]) -> int:
        """Enqueue every record of a polled batch, then commit; rewind and raise on failure."""
        count = 0
        try:
            for tp, records in batch.items():
                for record in records:
                    try:
                        dispatch(record, self.routes)
                        count += 1
                    except PoisonMessage as err:
                        self.skipped += 1
                        self.hooks.on_skipped()
                        log.error(
                            "skipping %s[%d]@%d: %s", tp.topic, tp.partition, record.offset, err
                        )
            for gathered in self.batches:
                gathered.flush()
        except Exception:
            for gathered in self.batches:
                gathered.discard()
            self._rewind(consumer, batch)
            raise
        self.enqueued += count
        self.hooks.on_enqueued(count)
        try:
            consumer.commit()
        except CommitFailedError as err:
            log.warning(
                "commit refused after a rebalance (%s); %d enqueued events will be redelivered "
                "to the partitions' new owner, which the actors absorb",
                summary(err),
                count,
            )
        return count

    @staticmethod
    def _rewind(consumer: Any, batch: Mapping[TopicPartition, list[Any]]) -> None:
        """Seek every partition of the batch back to its first record."""
        for tp, records in batch.items():
            if records:
                consumer.seek(tp, records[0].offset)

    def run(self, stop: threading.Event) -> None:
        """Bridge until `stop` is set; back off while Kafka or Redis fail."""
        consumer = None
        unassigned_since = time.monotonic()
        alarmed_at = 0.0
        try:
            while not stop.is_set():
                try:
                    if consumer is None:
                        consumer = self.consumer_factory()
                        unassigned_since = time.monotonic()
                    batch = consumer.poll(timeout_ms=200)
                    if batch:
                        self.handle_batch(consumer, batch)
                    held = _partitions(consumer)
                    if held:
                        unassigned_since = time.monotonic()
                        self.unassigned_s = 0.0
                    else:
                        self.unassigned_s = time.monotonic() - unassigned_since
                        if self.unassigned_s >= UNASSIGNED_ALARM_S and (
                            time.monotonic() - alarmed_at >= UNASSIGNED_ALARM_S
                        ):
                            alarmed_at = time.monotonic()
                            log.error(
                                "bridge subscribed for %.0fs without any partition: nothing is "
                                "being enqueued (is another member of the group stuck?)",
                                self.unassigned_s,
                            )
                    self.hooks.on_assignment(held, self.unassigned_s)
                    if self.unassigned_s >= REJOIN_AFTER_S:
                        log.error(
                            "bridge still without a partition after %.0fs: joining again as a "
                            "new member",
                            self.unassigned_s,
                        )
                        _close_without_leaving(consumer)
                        consumer = None
                        self.rejoins += 1
                    failures = self.retry.reset()
                    if failures:
                        log.info("bridge recovered after %d failed attempts", failures)
                except Exception as err:
                    self.hooks.on_error(err)
                    wait = self.retry.next_delay()
                    log.warning(
                        "bridge attempt %d failed (%s); retrying in %.1fs",
                        self.retry.failures,
                        summary(err),
                        wait,
                    )
                    if consumer is not None and _consumer_broken(err, self.retry.failures):
                        _close(consumer)
                        consumer = None
                    backoff.sleep(stop, wait)
        finally:
            if consumer is not None:
                _close_settled(consumer)


def _partitions(consumer: Any) -> int:
    """How many partitions the consumer holds (a fake or broken one counts as holding one:
    it does not alarm)."""
    try:
        return len(consumer.assignment())
    except Exception:
        return 1


def _assigned(consumer: Any) -> bool:
    return _partitions(consumer) > 0


def _close_settled(consumer: Any) -> None:
    """Close on shutdown without leaving the group mid-join (see JOIN_GRACE_S): finish the
    join first (records polled meanwhile are neither enqueued nor committed: the partitions'
    next owner reads them), else go without LeaveGroup."""
    deadline = time.monotonic() + JOIN_GRACE_S
    with contextlib.suppress(Exception):
        while not _assigned(consumer) and time.monotonic() < deadline:
            consumer.poll(timeout_ms=200)
    if not _assigned(consumer):
        log.warning("bridge stopping before it joined its group: leaving without LeaveGroup")
        _close_without_leaving(consumer)
    else:
        _close(consumer)


def _close_without_leaving(consumer: Any) -> None:
    """Close without LeaveGroup: the group drops this member after its session timeout."""
    with contextlib.suppress(AttributeError):  # kafka-python's coordinator, by name
        consumer._coordinator.maybe_leave_group = lambda *args, **kwargs: None
    _close(consumer)


def _consumer_broken(err: Exception, failures: int) -> bool:
    """Whether to start afresh: Kafka kept failing (a consumer reconnects by itself at first)."""
    return isinstance(err, KafkaError) and failures >= RECREATE_AFTER


def _close(consumer: Any) -> None:
    """Leave the group without committing anything more."""
    with contextlib.suppress(Exception):
        consumer.close(autocommit=False)
