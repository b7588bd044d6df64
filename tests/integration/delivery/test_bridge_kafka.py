"""The bridge on real Kafka and Redis: offsets committed only after the enqueue, at least once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient

from bridge.consumer import Bridge, Route, make_consumer
from payments import backoff
from payments.config import Settings
from tests.support import env
from tests.support.delivery import new_topic

RECORDS = 30


class Crash(BaseException):
    """Stands for SIGKILL: not an Exception, so nothing in the bridge catches it."""


@pytest.fixture
def topic(settings: Settings) -> str:
    """A fresh topic holding RECORDS events, one per payment id."""
    name = new_topic(settings)
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    for i in range(RECORDS):
        value = json.dumps({"payment_id": f"p{i:02d}"}).encode()
        producer.send(name, key=f"p{i:02d}".encode(), value=value, headers=[("ce_id", b"x")])
    producer.flush()
    producer.close()
    return name


@pytest.fixture
def broker(settings: Settings) -> Iterator[RedisBroker]:
    """A Dramatiq Redis broker in a namespace of this test's own."""
    broker = RedisBroker(url=settings.redis_url, namespace=f"test-bridge-{uuid.uuid4().hex[:8]}")
    broker.declare_queue("payments")
    yield broker
    client = redis.Redis.from_url(settings.redis_url)
    for key in client.scan_iter(f"{broker.namespace}:*"):
        client.delete(key)
    client.close()
    broker.close()


def enqueue_to(broker: RedisBroker, seen: list[str]) -> Callable[..., None]:
    """An enqueue into the broker's `payments` queue that also notes the id."""

    def enqueue(entity_id: str, ce_id: str | None = None) -> None:
        message = Message(
            queue_name="payments",
            actor_name="charge_payment",
            args=(entity_id,),
            kwargs={},
            options={"ce_id": ce_id},
        )
        broker.enqueue(message)
        seen.append(entity_id)

    return enqueue


def queued_ids(broker: RedisBroker) -> list[str]:
    """The argument of every message waiting in the queue."""
    client = broker.client
    raw = client.hvals(f"{broker.namespace}:payments.msgs")
    return sorted(Message.decode(m).args[0] for m in raw)


def committed(settings: Settings, topic: str) -> int:
    """The sum of the group's committed offsets on the topic (0 when none)."""
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    try:
        offsets = admin.list_group_offsets(settings.kafka_group_id).get(settings.kafka_group_id, {})
    finally:
        admin.close()
    return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic)


def run_until(bridge: Bridge, done: Callable[[], bool], timeout: float = 60) -> None:
    """Run the bridge in a thread until `done()` (or the timeout), then stop it."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            bridge.run(stop)
        except BaseException as err:  # a Crash ends the run, like a killed process
            errors.append(err)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive() and not done() and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(30)


def group_settings() -> Settings:
    """Settings with a consumer group of the test's own."""
    return env.settings(KAFKA_GROUP_ID=f"test-bridge-{uuid.uuid4().hex[:8]}")


def test_a_crash_after_enqueue_before_commit_redelivers_on_restart(
    topic: str, broker: RedisBroker
) -> None:
    settings = group_settings()
    seen: list[str] = []
    enqueue = enqueue_to(broker, seen)

    def crash_after_twelve(entity_id: str, ce_id: str | None = None) -> None:
        enqueue(entity_id, ce_id)
        if len(seen) == 12:
            raise Crash()

    first = Bridge(
        lambda: make_consumer(settings, [topic]), {topic: Route(crash_after_twelve, "payment_id")}
    )
    run_until(first, lambda: len(seen) >= 12)
    assert committed(settings, topic) == 0, "nothing of the crashed batch may be committed"

    second = Bridge(lambda: make_consumer(settings, [topic]), {topic: Route(enqueue, "payment_id")})
    run_until(second, lambda: committed(settings, topic) == RECORDS)

    expected = sorted(f"p{i:02d}" for i in range(RECORDS))
    assert sorted(set(seen)) == expected  # every event enqueued at least once
    assert len(seen) >= RECORDS + 12  # the crashed batch was enqueued again
    assert sorted(set(queued_ids(broker))) == expected
    assert committed(settings, topic) == RECORDS


def test_redis_refusing_connections_commits_nothing_then_catches_up(
    topic: str, broker: RedisBroker
) -> None:
    settings = group_settings()
    dead = RedisBroker(url=f"redis://127.0.0.1:{env.free_port()}/0", namespace="nowhere")
    dead.declare_queue("payments")
    seen: list[str] = []
    target: dict[str, Any] = {"to": enqueue_to(dead, seen)}
    route = Route(lambda entity_id, ce_id=None: target["to"](entity_id, ce_id), "payment_id")
    bridge = Bridge(
        lambda: make_consumer(settings, [topic]), {topic: route}, backoff.Backoff(0.05, 0.5)
    )
    stop = threading.Event()
    thread = threading.Thread(target=bridge.run, args=(stop,))
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while bridge.retry.failures < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert bridge.retry.failures >= 3, "the enqueue should have failed and backed off"
        assert committed(settings, topic) == 0
        target["to"] = enqueue_to(broker, seen)  # Redis is back
        while committed(settings, topic) < RECORDS and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join(30)
        dead.close()

    assert committed(settings, topic) == RECORDS
    assert sorted(set(queued_ids(broker))) == sorted(f"p{i:02d}" for i in range(RECORDS))


def test_a_bridge_stopped_during_its_first_join_leaves_the_group_usable(
    settings: Settings,
) -> None:
    """Stopped while its group's first join is under way, the bridge must not poison the
    group (a LeaveGroup then left Tansu's group assigning nobody, for good): the next bridge
    of the same group consumes within 30 s."""
    import dataclasses

    name = new_topic(settings)
    group = dataclasses.replace(settings, kafka_group_id=f"test-join-{uuid.uuid4().hex[:8]}")
    seen: list[str] = []
    routes = {name: Route(lambda entity_id, ce_id=None: seen.append(entity_id), "payment_id")}
    stop = threading.Event()
    first = Bridge(lambda: make_consumer(group, [name]), routes)
    thread = threading.Thread(target=first.run, args=(stop,))
    thread.start()
    time.sleep(1.0)  # the consumer is joining: no partition yet
    stop.set()
    thread.join(30)
    assert not thread.is_alive()

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    producer.send(name, key=b"k", value=json.dumps({"payment_id": "after-stop"}).encode())
    producer.flush()
    producer.close()
    stop_next = threading.Event()
    following = Bridge(lambda: make_consumer(group, [name]), routes)
    runner = threading.Thread(target=following.run, args=(stop_next,))
    runner.start()
    try:
        deadline = time.monotonic() + 30
        while "after-stop" not in seen and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_next.set()
        runner.join(30)
    assert "after-stop" in seen, "the next bridge of the group was never assigned a partition"
