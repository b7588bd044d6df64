"""Helpers of the delivery tests: private topics to publish to, and to read back."""

from __future__ import annotations

import contextlib
import time
import uuid
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic

from payments.config import Settings


def new_topic(settings: Settings, partitions: int = 3) -> str:
    """A topic no other test uses."""
    name = f"delivery-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()
    return name


def read_topic(settings: Settings, topic: str, count: int, timeout: float = 30) -> list[Any]:
    """The first `count` records of a topic (fewer if they do not come within `timeout`)."""
    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        group_id=None,
        enable_auto_commit=False,
    )
    found: list[Any] = []
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                found.extend(records)
    finally:
        with contextlib.suppress(Exception):
            consumer.close()
    return found
