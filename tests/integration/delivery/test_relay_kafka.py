"""The relay on real PostgreSQL and Kafka: batches, order per payment, nothing marked unacked."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka.admin import KafkaAdminClient, NewTopic
from sqlalchemy import Engine, text

from devstack.embedded import Launch, start_kafka
from devstack.procs import free_port
from devstack.settings import HostPort
from outbox.relay import Relay
from payments import backoff
from payments.adapters.publisher import KafkaPublisher
from payments.config import Settings
from payments.db.outbox_store import SqlOutbox
from payments.messages import OutboxMessage
from tests.support.delivery import new_topic, read_topic
from tests.support.private import Service


def write_events(engine: Engine, topic: str, keys: list[str], per_key: int) -> None:
    """`per_key` events for each key, interleaved (k1#1, k2#1, ..., k1#2, ...), each its own tx."""
    for seq in range(per_key):
        for key in keys:
            message = OutboxMessage(
                uuid.uuid4(),
                topic,
                "test.event",
                key,
                {"payment_id": key, "seq": seq},
                datetime.now(UTC),
            )
            with engine.begin() as conn:
                SqlOutbox(conn).write([message])


def unpublished(engine: Engine, topic: str) -> int:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM outbox WHERE topic = :t AND published_at IS NULL"
        return conn.execute(text(query), {"t": topic}).scalar_one()


def relay_on(engine: Engine, servers: str, batch_size: int, timeout_s: float = 10) -> Relay:
    return Relay(
        engine,
        lambda: KafkaPublisher(servers, timeout_s=timeout_s),
        batch_size=batch_size,
        poll_interval=0.05,
        retry=backoff.Backoff(base=0.05, cap=0.5),
    )


def test_publishes_in_batches_with_headers_then_marks(clean_outbox: Engine, settings: Settings):
    topic = new_topic(settings)
    keys = [str(uuid.uuid4()) for _ in range(25)]
    write_events(clean_outbox, topic, keys, per_key=1)
    relay = relay_on(clean_outbox, settings.kafka_bootstrap_servers, batch_size=10)
    try:
        counts = [relay.run_once() for _ in range(4)]
    finally:
        relay._drop_publisher()

    assert counts == [10, 10, 5, 0]
    assert unpublished(clean_outbox, topic) == 0
    records = read_topic(settings, topic, 25)
    assert sorted(r.key.decode() for r in records) == sorted(keys)
    with clean_outbox.connect() as conn:
        ids = {
            str(i)
            for (i,) in conn.execute(
                text("SELECT event_id FROM outbox WHERE topic = :t"), {"t": topic}
            )
        }
    assert {dict(r.headers)["ce_id"].decode() for r in records} == ids


def test_two_relays_keep_each_payments_order(clean_outbox: Engine, settings: Settings) -> None:
    topic = new_topic(settings)
    keys = [str(uuid.uuid4()) for _ in range(30)]
    stop = threading.Event()
    relays = [relay_on(clean_outbox, settings.kafka_bootstrap_servers, batch_size=7) for _ in "ab"]
    threads = [threading.Thread(target=r.run, args=(stop,)) for r in relays]
    for thread in threads:
        thread.start()
    try:
        write_events(clean_outbox, topic, keys, per_key=5)  # while both relays run
        deadline = time.monotonic() + 60
        while unpublished(clean_outbox, topic) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert unpublished(clean_outbox, topic) == 0
    assert all(r.published > 0 for r in relays), "both relays should have taken a share"
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in sorted(read_topic(settings, topic, 150), key=lambda r: r.offset):
        sequences[record.key.decode()].append(json.loads(record.value)["seq"])
    assert {k: sequences[k] for k in keys} == {k: [0, 1, 2, 3, 4] for k in keys}


@pytest.fixture
def private_kafka(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Kafka broker of this test's own, to freeze and kill."""
    address = HostPort("127.0.0.1", free_port())
    run_dir: Path = tmp_path_factory.mktemp("kafka")
    service = Service("kafka", address, lambda: start_kafka(address, Launch(run_dir))).start()
    yield service
    service.stop(timeout=5)


def test_nothing_is_marked_published_that_the_broker_did_not_acknowledge(
    clean_outbox: Engine, private_kafka: Service
) -> None:
    servers = f"{private_kafka.address.host}:{private_kafka.address.port}"
    admin = KafkaAdminClient(bootstrap_servers=servers)
    topic = f"frozen-{uuid.uuid4().hex[:8]}"
    admin.create_topics([NewTopic(topic, 3, 1)])
    admin.close()
    keys = [str(uuid.uuid4()) for _ in range(6)]
    write_events(clean_outbox, topic, keys, per_key=1)
    relay = relay_on(clean_outbox, servers, batch_size=100, timeout_s=3)
    relay._get_publisher()  # connected while the broker answers

    private_kafka.pause()  # frozen: connections open, no answer
    try:
        with pytest.raises(Exception):  # noqa: B017 - whatever the producer raises
            relay.run_once()
        assert unpublished(clean_outbox, topic) == 6
    finally:
        private_kafka.resume()
    relay._drop_publisher()

    assert relay.run_once() == 6
    relay._drop_publisher()
    assert unpublished(clean_outbox, topic) == 0

    write_events(clean_outbox, topic, keys[:2], per_key=1)
    private_kafka.kill()  # gone: connections refused
    with pytest.raises(Exception):  # noqa: B017
        relay.run_once()
    assert unpublished(clean_outbox, topic) == 2


class _SlowFirstPublish:
    """A real Kafka publisher whose first batch waits `delay` s before it is sent, holding
    its claimed rows (and their locks) meanwhile; `entered` is set when it starts waiting."""

    def __init__(self, servers: str, delay: float) -> None:
        self.inner = KafkaPublisher(servers, timeout_s=10)
        self.delay = delay
        self.entered = threading.Event()

    def publish(self, messages: list[OutboxMessage]) -> None:
        if not self.entered.is_set():
            self.entered.set()
            time.sleep(self.delay)
        self.inner.publish(messages)

    def close(self) -> None:
        self.inner.close()


def test_concurrent_relays_over_a_backlog_keep_every_payments_order(
    clean_outbox: Engine, settings: Settings
) -> None:
    """Contract sections 5 and 7: several relays at once, one payment's events in order.

    The outbox already holds several unpublished events per payment (as replays, re-drives
    and an outage produce), each payment's in a row. One relay claims the first event and
    holds it unpublished; the others claim meanwhile. Without the claim's guard (no earlier
    unpublished row of the same key) they would take that payment's later events and
    publish them first.
    """
    topic = new_topic(settings, partitions=3)
    keys = [str(uuid.uuid4()) for _ in range(12)]
    for key in keys:  # key by key: k1#0, k1#1, k1#2, k2#0, ...
        write_events(clean_outbox, topic, [key], per_key=1)
        write_events(clean_outbox, topic, [key], per_key=2)
    with clean_outbox.begin() as conn:  # seq as written: 0, then 0 and 1 -> renumber by id
        conn.execute(
            text(
                "UPDATE outbox o SET payload = jsonb_set(o.payload, '{seq}', to_jsonb(n.seq)) "
                "FROM (SELECT id, row_number() OVER (PARTITION BY message_key ORDER BY id) - 1 "
                "AS seq FROM outbox WHERE topic = :t) n WHERE o.id = n.id"
            ),
            {"t": topic},
        )
    servers = settings.kafka_bootstrap_servers
    slow = _SlowFirstPublish(servers, delay=1.5)
    first = Relay(clean_outbox, lambda: slow, batch_size=1, poll_interval=0.05)
    others = [relay_on(clean_outbox, servers, batch_size=4) for _ in range(3)]
    stop = threading.Event()
    threads = [threading.Thread(target=first.run, args=(stop,))]
    threads[0].start()
    try:
        assert slow.entered.wait(20), "the first relay never claimed"
        threads += [threading.Thread(target=r.run, args=(stop,)) for r in others]
        for thread in threads[1:]:
            thread.start()
        deadline = time.monotonic() + 60
        while unpublished(clean_outbox, topic) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert unpublished(clean_outbox, topic) == 0
    assert sum(r.published for r in others) > 0, "the other relays should have taken a share"
    sequences: dict[str, list[int]] = defaultdict(list)
    for record in sorted(read_topic(settings, topic, 3 * len(keys)), key=lambda r: r.offset):
        sequences[record.key.decode()].append(json.loads(record.value)["seq"])
    assert {k: sequences[k] for k in keys} == {k: [0, 1, 2] for k in keys}
