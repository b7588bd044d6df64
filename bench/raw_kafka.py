"""The raw Kafka rate: a bare kafka-python producer sending the relay's messages, same broker.

Same topic, key, value and CloudEvents headers as the relay publishes, `acks=all` like the
relay (so both wait for the same durability), everything else as kafka-python batches best:
fire every send, then one flush.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from kafka import KafkaProducer

from payments.adapters.publisher import encode
from payments.messages import OutboxMessage, kafka_headers

PRODUCER_CONFIG: dict[str, object] = {"acks": "all", "linger_ms": 5, "batch_size": 256 * 1024}


def produce_rate(servers: list[str], messages: Sequence[OutboxMessage]) -> dict[str, float]:
    """Send every message and wait for every ack; messages per second."""
    encoded = [(m.topic, encode(m), m.key.encode(), kafka_headers(m)) for m in messages]
    producer = KafkaProducer(bootstrap_servers=servers, client_id="bench-raw", **PRODUCER_CONFIG)
    try:
        producer.send(encoded[0][0], value=b"{}", key=b"warm-up").get(timeout=30)
        started = time.perf_counter()
        futures = [
            producer.send(topic, value=value, key=key, headers=headers)
            for topic, value, key, headers in encoded
        ]
        producer.flush(timeout=120)
        for future in futures:
            future.get(timeout=30)
        elapsed = time.perf_counter() - started
    finally:
        producer.close(timeout=5)
    return {"messages": len(messages), "seconds": elapsed, "per_s": len(messages) / elapsed}
