"""Kafka helpers for tests: make sure topics exist, read a topic's records."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer

from devstack import topics
from payments.config import Settings


def ensure_topics(settings: Settings, partitions: int = 3) -> None:
    """Create the service's topics when missing (devstack's helper, as `make run` does)."""
    topics.ensure_topics(settings.kafka_bootstrap_servers, settings.topics.all(), partitions)


def records(settings: Settings, topic: str, key: str, timeout: float = 20) -> list[Any]:
    """Every record with `key` on `topic`, reading from the start (waits for at least one)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
    )
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for record in consumer:
                if record.key == key.encode():
                    found.append(record)
            if found:
                return found
    finally:
        consumer.close()
    return found
