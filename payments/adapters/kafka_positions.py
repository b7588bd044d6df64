"""The bridge's positions in Kafka (kafka-python), for the delivery horizon (`payments.horizon`).

A consumer with no group reads the topics' partitions and end offsets; an admin client reads
what the bridge's group committed. Neither joins the group nor commits anything. The fake is
`payments.horizon.FakePositions`.
"""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from payments.horizon import Offsets


class KafkaPositions:
    """End offsets of `topics` and the committed offsets of `group_id` on them."""

    def __init__(self, bootstrap_servers: str, group_id: str, topics: Sequence[str]):
        servers = bootstrap_servers.split(",")
        common = {
            "bootstrap_servers": servers,
            "client_id": "payments-janitor",
            "request_timeout_ms": 10_000,
        }
        self.group_id = group_id
        self.topics = list(topics)
        self.consumer = KafkaConsumer(group_id=None, enable_auto_commit=False, **common)
        self.admin = KafkaAdminClient(**common)

    def _partitions(self) -> list[TopicPartition]:
        found = []
        for topic in self.topics:
            for partition in sorted(self.consumer.partitions_for_topic(topic) or ()):
                found.append(TopicPartition(topic, partition))
        return found

    def end_offsets(self) -> Offsets:
        partitions = self._partitions()
        if not partitions:
            return {}
        ends = self.consumer.end_offsets(partitions)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}

    def committed(self) -> Offsets:
        # The partitions named: some brokers (Tansu) answer "all of the group's" with none.
        partitions = self._partitions()
        if not partitions:
            return {}
        groups = self.admin.list_group_offsets({self.group_id: partitions})
        return {
            (tp.topic, tp.partition): int(meta.offset)
            for tp, meta in groups.get(self.group_id, {}).items()
            if meta.offset is not None and meta.offset >= 0
        }

    def close(self) -> None:
        self.consumer.close(autocommit=False)
        self.admin.close()
