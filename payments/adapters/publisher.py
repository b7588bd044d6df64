"""Publishing outbox messages: a Kafka producer (kafka-python), and a fake."""

from __future__ import annotations

import json
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from payments.errors import DeliveryError
from payments.messages import OutboxMessage, kafka_headers


def encode(message: OutboxMessage) -> bytes:
    """The Kafka value: the flat JSON payload, UTF-8."""
    return json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()


class PublishFailed(DeliveryError):
    """Not every message of a batch was acknowledged; `acked` holds the positions that were."""

    def __init__(self, acked: list[int], cause: BaseException):
        super().__init__(f"{len(acked)} acknowledged; {type(cause).__name__}: {cause}")
        self.acked = acked
        self.cause = cause


class KafkaPublisher:
    """Sends a batch and returns only once the broker acknowledged every message."""

    def __init__(self, bootstrap_servers: str, timeout_s: float = 30.0, **config: object):
        self.timeout_s = timeout_s
        # A broker that is down fails the constructor within this (kafka-python: 30 s).
        config.setdefault("bootstrap_timeout_ms", int(min(timeout_s, 10.0) * 1000))
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers.split(","),
            acks="all",
            linger_ms=2,
            # One produce request per partition carries a whole claimed batch (16 KiB
            # would split it into many; one request in flight means one round trip each).
            batch_size=1024 * 1024,
            retries=5,
            max_in_flight_requests_per_connection=1,
            request_timeout_ms=int(timeout_s * 1000),
            delivery_timeout_ms=int(timeout_s * 1000) + 1000,
            max_block_ms=int(timeout_s * 1000),
            client_id="payments-relay",
            **config,
        )

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish in order; raises `PublishFailed` naming the acknowledged ones if any was not."""
        futures = []
        error: Exception | None = None
        for m in messages:
            try:
                futures.append(
                    self.producer.send(
                        m.topic, value=encode(m), key=m.key.encode(), headers=kafka_headers(m)
                    )
                )
            except KafkaError as err:  # e.g. no metadata within max_block_ms: stop here
                error = err
                break
        try:
            self.producer.flush(timeout=self.timeout_s)
        except KafkaError as err:
            error = error or err
        acked = [i for i, future in enumerate(futures) if future.succeeded()]
        if len(acked) < len(messages):
            failed = next((f.exception for f in futures if f.failed()), None)
            cause = error or failed or TimeoutError("not acknowledged in time")
            raise PublishFailed(acked, cause)

    def close(self) -> None:
        """Flush what is pending and close the connection."""
        self.producer.close(timeout=5)


class FakePublisher:
    """Keeps published messages in order; can be told to fail like a down or flaky broker."""

    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []
        self.down = False
        self.ack_only: int | None = None  # acknowledge only this many of the next batch

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Append all; raise ConnectionError while `down`, PublishFailed after `ack_only`."""
        if self.down:
            raise ConnectionError("broker down")
        if self.ack_only is not None and self.ack_only < len(messages):
            acked, self.ack_only = self.ack_only, None
            self.sent.extend(messages[:acked])
            raise PublishFailed(list(range(acked)), ConnectionError("broker went away"))
        self.sent.extend(messages)

    def close(self) -> None:
        """Nothing to close."""
