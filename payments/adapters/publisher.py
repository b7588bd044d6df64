"""Publishing outbox messages: a Kafka producer (kafka-python), and a fake."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kafka import KafkaProducer

from payments.messages import OutboxMessage, kafka_headers


def encode(message: OutboxMessage) -> bytes:
    """The Kafka value: the flat JSON payload, UTF-8."""
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


class KafkaPublisher:
    """Sends a batch and returns only once the broker acknowledged every message."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 30.0, **config: object):
        self.timeout_s = timeout_s
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers.split(","),
            acks="all",
            linger_ms=2,
            retries=5,
            max_in_flight_requests_per_connection=1,
            request_timeout_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + 1000,
            max_block_ms=int(timeout_s * 1000),
            client_id="payments-relay",
            **config,
        )

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish in order; raises if any message was not acknowledged."""
        futures = [
            self.producer.send(
                m.topic, value=encode(m), key=m.key.encode(), headers=kafka_headers(m)
            )
            for m in messages
        ]
        self.producer.flush(timeout=self.timeout_s)
        for future in futures:
            future.get(timeout=self.timeout_s)

    def close(self) -> None:
        """Flush what is pending and close the connection."""
        self.producer.close(timeout=5)


class FakePublisher:
    """Keeps published messages in order; can be told to fail like a down broker."""

    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []
        self.down = False

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Append all, or raise ConnectionError while `down`."""
        if self.down:
            raise ConnectionError("broker down")
        self.sent.extend(messages)

    def close(self) -> None:
        """Nothing to close."""
