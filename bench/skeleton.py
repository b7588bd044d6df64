"""The skeleton pipelines: the floors that the service's per-payment cost is compared with.

The same hops as the service, with no business logic, in the same process layout and
settings (issue 12): a minimal Flask + psycopg API writing the payment and its outbox row in
one transaction under the same gunicorn settings; a relay claiming, publishing (kafka-python,
acks=all) and marking outbox rows; a bridge consuming the flow's topics in a consumer group
and enqueuing Dramatiq messages by name, committing offsets after; and no-op Dramatiq actors
(`bench.skeleton_worker`) that commit the same rows in the same number of transactions with
plain psycopg, the last one sending one e-mail over an SMTP connection reused per thread.

Two flows (`SKELETON_FLOW`): `four_hops`, the previous design (payment.created ->
transaction.created -> transaction.succeeded -> payment.succeeded, a hop each), kept as the
reference; and `two_hops`, the current one (contract section 5: payment.created -> the
charge, which opens the transaction and settles it, on a pool of its own; payment.succeeded
-> the e-mail), the floor of today's pipeline.

`gunicorn 'bench.skeleton:create_app()'`, `python -m bench.skeleton relay|bridge`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from payments import config

QUEUE = "skeleton"
GATEWAY_QUEUE = "skeleton_gateway"  # the two-hop flow's charge, on a pool of its own
# flow -> {topic the bridge consumes: (actor, queue)}
FLOWS = {
    "four_hops": {
        "payment_created": ("skeleton_create_transaction", QUEUE),
        "transaction_created": ("skeleton_process_transaction", QUEUE),
        "transaction_succeeded": ("skeleton_settle_payment", QUEUE),
        "payment_succeeded": ("skeleton_send_email", QUEUE),
    },
    "two_hops": {
        "payment_created": ("skeleton_charge", GATEWAY_QUEUE),
        "payment_succeeded": ("skeleton_send_email", QUEUE),
    },
}


def flow() -> str:
    """The flow this process runs (`SKELETON_FLOW`, default `four_hops`)."""
    name = os.environ.get("SKELETON_FLOW", "four_hops")
    if name not in FLOWS:
        raise SystemExit(f"SKELETON_FLOW must be one of {', '.join(FLOWS)}, not {name!r}")
    return name


def settings() -> config.Settings:
    """The same settings as the service's processes."""
    return config.from_env()


def libpq(url: str) -> str:
    """SQLAlchemy's URL as libpq's."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def outbox_row(topic: str, event_type: str, key: str, payload: dict[str, Any]) -> tuple[Any, ...]:
    """An outbox row's values."""
    return (uuid.uuid4(), topic, event_type, key, Jsonb(payload))


INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, topic, event_type, message_key, payload) "
    "VALUES (%s, %s, %s, %s, %s)"
)


def create_app() -> Any:
    """POST /payments: the payment and its outbox row in one transaction, 201 with the id."""
    from flask import Flask, jsonify, request

    s = settings()
    pool = ConnectionPool(libpq(s.database_url), min_size=1, max_size=s.db_pool_size, open=True)
    app = Flask("skeleton")

    @app.post("/payments")
    def create() -> Any:
        body = request.get_json()
        payment_id = uuid.uuid4()
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO payments (id, user_name, user_email, user_language, event_id, "
                "event_name, amount, currency, payment_token) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (payment_id, body["user_name"], body["user_email"], "en", body["event_id"],
                 body.get("event_name"), body["event_amount"], "USD", body["payment_token"]),
            )  # fmt: skip
            conn.execute(
                INSERT_OUTBOX,
                outbox_row(s.topics.payment_created, "payment.created", str(payment_id),
                           {"payment_id": str(payment_id)}),
            )  # fmt: skip
        response = jsonify({"id": str(payment_id), "status": "PENDING"})
        response.status_code = 201
        return response

    @app.get("/healthz")
    def health() -> Any:
        return {"status": "ok"}

    return app


CLAIM = """
UPDATE outbox SET published_at = now() WHERE id IN (
    SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 500
    FOR UPDATE SKIP LOCKED)
RETURNING topic, message_key, payload::text, event_id::text, event_type
"""


def relay(stop: threading.Event) -> None:
    """Claim, publish and mark, batch after batch, in one transaction per batch; LISTEN."""
    from kafka import KafkaProducer

    s = settings()
    producer = KafkaProducer(
        bootstrap_servers=s.kafka_bootstrap_servers.split(","), acks="all", linger_ms=1
    )
    listener = psycopg.connect(libpq(s.database_url), autocommit=True)
    listener.execute("LISTEN outbox")
    with psycopg.connect(libpq(s.database_url)) as conn:
        while not stop.is_set():
            with conn.transaction():
                rows = conn.execute(CLAIM).fetchall()
                futures = [
                    producer.send(
                        topic,
                        value=payload.encode(),
                        key=key.encode(),
                        headers=[("ce_id", ce_id.encode()), ("ce_type", kind.encode())],
                    )
                    for topic, key, payload, ce_id, kind in rows
                ]
                producer.flush()
                for future in futures:
                    future.get(timeout=30)
            if not rows:
                for _ in listener.notifies(timeout=0.5, stop_after=1):
                    pass
    producer.close(timeout=5)


def bridge(stop: threading.Event) -> None:
    """Consume the flow's topics in a group; enqueue each record's actor by name; commit."""
    import redis
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker
    from kafka import KafkaConsumer

    s = settings()
    topics = {getattr(s.topics, step): actor for step, actor in FLOWS[flow()].items()}
    broker = RedisBroker(
        client=redis.Redis.from_url(s.redis_url), namespace=s.dramatiq_namespace, middleware=[]
    )
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=s.kafka_bootstrap_servers.split(","),
        group_id=s.kafka_group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_interval_ms=30_000,
        session_timeout_ms=10_000,
        fetch_max_wait_ms=50,
    )
    while not stop.is_set():
        batch = consumer.poll(timeout_ms=200)
        for records in batch.values():
            for record in records:
                entity = json.loads(record.value)["payment_id"]
                actor, queue = topics[record.topic]
                broker.enqueue(Message(queue_name=queue, actor_name=actor,
                                       args=(entity,), kwargs={}, options={}))  # fmt: skip
        if batch:
            consumer.commit()
    consumer.close(autocommit=False)


def main(argv: list[str]) -> int:
    """`relay` or `bridge`, until SIGTERM/SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    {"relay": relay, "bridge": bridge}[argv[0]](stop)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
