"""Creating the Kafka topics the service uses."""

from __future__ import annotations

import logging
from collections.abc import Iterable

PARTITIONS = 3


def ensure_topics(
    servers: str | list[str], names: Iterable[str], partitions: int = PARTITIONS
) -> list[str]:
    """Create each missing topic with `partitions` partitions; returns the names created."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=10000)
    try:
        existing = set(admin.list_topics())
        missing = sorted(set(names) - existing)
        created = []
        for name in missing:
            try:
                admin.create_topics([NewTopic(name, partitions, 1)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        admin.close()
