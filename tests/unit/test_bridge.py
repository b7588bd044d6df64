"""The bridge with a fake consumer: commit after enqueue, rewind on failure, backoff."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka import TopicPartition
from kafka.errors import CommitFailedError

from bridge.consumer import Batch, Bridge, Route, routes_for
from payments import backoff
from payments.config import Settings, Topics


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def record(topic: str, partition: int, offset: int, payment_id: str) -> Record:
    value = json.dumps({"payment_id": payment_id}).encode()
    return Record(topic, partition, offset, value, [("ce_id", f"ce-{payment_id}".encode())])


class FakeConsumer:
    """Returns scripted batches; remembers commits and seeks in one shared journal."""

    def __init__(self, journal: list[Any], batches: list[dict[TopicPartition, list[Record]]]):
        self.journal = journal
        self.batches = batches
        self.commit_error: Exception | None = None
        self.closed = False

    def poll(self, timeout_ms: int = 0) -> dict[TopicPartition, list[Record]]:
        return self.batches.pop(0) if self.batches else {}

    def commit(self) -> None:
        if self.commit_error is not None:
            err, self.commit_error = self.commit_error, None
            raise err
        self.journal.append("commit")

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.journal.append(("seek", tp.partition, offset))

    def close(self, autocommit: bool = True) -> None:
        self.closed = True


class FlakyQueue:
    """An enqueue that fails while `down` (like Redis refusing connections)."""

    def __init__(self, journal: list[Any]):
        self.journal = journal
        self.down = 0  # fail this many more calls
        self.fail_on: set[str] = set()

    def __call__(self, entity_id: str, ce_id: str | None = None) -> None:
        if entity_id in self.fail_on:
            raise ConnectionError("redis went away")
        if self.down:
            self.down -= 1
            raise ConnectionError("redis down")
        self.journal.append(("enqueue", entity_id, ce_id))


TP0, TP1 = TopicPartition("T", 0), TopicPartition("T", 1)


@pytest.fixture
def journal() -> list[Any]:
    return []


@pytest.fixture
def queue(journal) -> FlakyQueue:
    return FlakyQueue(journal)


def bridge(queue: FlakyQueue, consumer: FakeConsumer | None = None) -> Bridge:
    return Bridge(
        lambda: consumer, {"T": Route(queue, "payment_id")}, retry=backoff.Backoff(0.001, 0.01)
    )


def test_commits_only_after_every_record_was_enqueued(journal, queue) -> None:
    batch = {TP0: [record("T", 0, 5, "a"), record("T", 0, 6, "b")], TP1: [record("T", 1, 9, "c")]}
    consumer = FakeConsumer(journal, [])

    assert bridge(queue).handle_batch(consumer, batch) == 3
    assert journal == [
        ("enqueue", "a", "ce-a"),
        ("enqueue", "b", "ce-b"),
        ("enqueue", "c", "ce-c"),
        "commit",
    ]


def test_a_failed_enqueue_rewinds_every_partition_and_commits_nothing(journal, queue) -> None:
    batch = {TP0: [record("T", 0, 5, "a"), record("T", 0, 6, "b")], TP1: [record("T", 1, 9, "c")]}
    consumer = FakeConsumer(journal, [])
    queue.fail_on = {"c"}  # after a and b were enqueued

    with pytest.raises(ConnectionError):
        bridge(queue).handle_batch(consumer, batch)
    assert "commit" not in journal
    assert ("enqueue", "b", "ce-b") in journal  # enqueued again after the rewind: harmless
    assert sorted(j for j in journal if j[0] == "seek") == [("seek", 0, 5), ("seek", 1, 9)]


def test_poison_messages_are_skipped_and_committed(journal, queue) -> None:
    bad = Record("T", 0, 1, b"not json")
    no_id = Record("T", 0, 2, b"{}")
    other_topic = Record("U", 0, 3, b"{}")
    consumer = FakeConsumer(journal, [])
    b = bridge(queue)

    assert b.handle_batch(consumer, {TP0: [bad, no_id, record("T", 0, 3, "a"), other_topic]}) == 1
    assert journal == [("enqueue", "a", "ce-a"), "commit"]
    assert b.skipped == 3


def test_a_commit_refused_by_a_rebalance_is_not_a_failure(journal, queue) -> None:
    consumer = FakeConsumer(journal, [])
    consumer.commit_error = CommitFailedError()

    assert bridge(queue).handle_batch(consumer, {TP0: [record("T", 0, 1, "a")]}) == 1
    assert journal == [("enqueue", "a", "ce-a")]


def test_run_backs_off_while_redis_is_down_and_redelivers_the_batch(
    journal, queue, monkeypatch
) -> None:
    batch = {TP0: [record("T", 0, 7, "a"), record("T", 0, 8, "b")]}
    stop = threading.Event()

    class Rewinding(FakeConsumer):
        """Hands the batch out again after a seek, as Kafka would."""

        def seek(self, tp: TopicPartition, offset: int) -> None:
            super().seek(tp, offset)
            self.batches.insert(0, batch)

        def commit(self) -> None:
            super().commit()
            stop.set()

    consumer = Rewinding(journal, [batch])
    waits: list[float] = []

    def fake_sleep(event: threading.Event, seconds: float) -> bool:
        waits.append(seconds)
        return event.is_set()

    monkeypatch.setattr(backoff, "sleep", fake_sleep)
    monkeypatch.setattr(backoff, "delay", lambda attempt, base, cap: base * 2**attempt)
    queue.down = 3
    b = Bridge(lambda: consumer, {"T": Route(queue, "payment_id")}, backoff.Backoff(1.0, 60))
    b.run(stop)

    assert waits == [1.0, 2.0, 4.0]
    assert journal.count(("seek", 0, 7)) == 3
    assert journal[-3:] == [("enqueue", "a", "ce-a"), ("enqueue", "b", "ce-b"), "commit"]
    assert consumer.closed


def test_run_retries_when_the_consumer_cannot_be_built(journal, queue, monkeypatch) -> None:
    stop = threading.Event()
    attempts: list[int] = []
    consumer = FakeConsumer(journal, [{TP0: [record("T", 0, 1, "a")]}])

    def factory() -> FakeConsumer:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError("no brokers")
        return consumer

    monkeypatch.setattr(backoff, "sleep", lambda event, seconds: event.is_set())
    original_commit = consumer.commit

    def commit_and_stop() -> None:
        original_commit()
        stop.set()

    consumer.commit = commit_and_stop  # type: ignore[method-assign]
    Bridge(factory, {"T": Route(queue, "payment_id")}).run(stop)
    assert len(attempts) == 3
    assert journal == [("enqueue", "a", "ce-a"), "commit"]


class RecordingBroker:
    """A broker that journals what it enqueues, or fails while `down` (as Redis refusing)."""

    def __init__(self, journal: list[Any]):
        self.journal = journal
        self.down = False

    def enqueue(self, message: Any) -> Any:
        if self.down:
            raise ConnectionError("redis down")
        self.journal.append(("enqueue", message.actor_name, message.args[0]))
        return message


def batched_bridge(journal: list[Any]) -> tuple[Bridge, RecordingBroker, Batch]:
    broker = RecordingBroker(journal)
    batch = Batch(broker)
    routes = routes_for(Settings(topics=Topics(payment_created="T")), batch)
    return Bridge(lambda: None, routes, backoff.Backoff(0.001, 0.01)), broker, batch


def test_a_batch_is_enqueued_at_once_after_it_was_read_then_committed(journal) -> None:
    bridge_, _, batch = batched_bridge(journal)
    polled = {TP0: [record("T", 0, 5, "a"), record("T", 0, 6, "b")], TP1: [record("T", 1, 9, "c")]}

    assert bridge_.handle_batch(FakeConsumer(journal, []), polled) == 3
    assert journal == [
        ("enqueue", "charge_payment", "a"),
        ("enqueue", "charge_payment", "b"),
        ("enqueue", "charge_payment", "c"),
        "commit",
    ]
    assert batch.pending == []


def test_a_failed_batch_enqueue_rewinds_commits_nothing_and_keeps_nothing(journal) -> None:
    bridge_, broker, batch = batched_bridge(journal)
    broker.down = True
    polled = {TP0: [record("T", 0, 5, "a")], TP1: [record("T", 1, 9, "c")]}

    with pytest.raises(ConnectionError):
        bridge_.handle_batch(FakeConsumer(journal, []), polled)
    assert sorted(journal) == [("seek", 0, 5), ("seek", 1, 9)]
    assert batch.pending == []  # the next poll starts afresh from the rewind


class UnassignedConsumer(FakeConsumer):
    """Subscribed, but its group never gives it a partition."""

    def __init__(self, journal: list[Any]):
        super().__init__(journal, [])
        self.coordinator_left: list[bool] = []

        class Coordinator:
            def maybe_leave_group(inner, *args: Any, **kwargs: Any) -> None:  # noqa: N805
                self.coordinator_left.append(True)

        self._coordinator = Coordinator()

    def assignment(self) -> set[TopicPartition]:
        return set()

    def close(self, autocommit: bool = True) -> None:
        self._coordinator.maybe_leave_group()
        super().close(autocommit)


def test_a_bridge_without_partitions_alarms_then_joins_again_as_a_new_member(
    journal, queue, monkeypatch
) -> None:
    from bridge import consumer as module

    monkeypatch.setattr(module, "UNASSIGNED_ALARM_S", 0.05)
    monkeypatch.setattr(module, "REJOIN_AFTER_S", 0.2)
    monkeypatch.setattr(module, "JOIN_GRACE_S", 0.1)
    built: list[UnassignedConsumer] = []
    seen: list[tuple[int, float]] = []

    def factory() -> UnassignedConsumer:
        built.append(UnassignedConsumer(journal))
        return built[-1]

    stop = threading.Event()
    hooks = module.BridgeHooks(on_assignment=lambda held, idle: seen.append((held, idle)))
    bridge_ = Bridge(factory, {"T": Route(queue, "payment_id")}, hooks=hooks)
    runner = threading.Thread(target=bridge_.run, args=(stop,))
    runner.start()
    module.time.sleep(0.7)
    stop.set()
    runner.join(15)

    assert bridge_.rejoins >= 2 and len(built) >= 3
    assert all(c.closed for c in built[:-1])
    assert not any(c.coordinator_left for c in built[:-1])  # gone without LeaveGroup
    assert max(idle for _, idle in seen) >= 0.2 and {held for held, _ in seen} == {0}


def test_the_bridge_consumes_exactly_the_topics_self_healing_watches() -> None:
    """The janitor's delivery horizon reads the bridge's group on `Topics.bridged()`: a topic
    routed but not watched would let a step in Kafka look lost."""
    topics = Topics()
    routes = routes_for(Settings(topics=topics), Batch(RecordingBroker([])))
    assert sorted(routes) == sorted(topics.bridged())
