"""The relay and the workers as real processes: their /metrics ports and their JSON log lines."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from dramatiq.brokers.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from payments.bootstrap import Container
from payments.config import Settings
from tests.integration.ops.conftest import ops_environ
from tests.support import env
from tests.support.factories import place
from tests.support.procs import Process, wait_until


def sample(port: int, name: str, **labels: str) -> float | None:
    """One sample of a process's /metrics, None while it is absent or the port is closed."""
    try:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


def json_lines(process: Process) -> list[dict[str, Any]]:
    """The process's log lines that are JSON objects (all of ours, with LOG_FORMAT=json)."""
    lines = []
    for line in process.output().splitlines():
        try:
            lines.append(json.loads(line))
        except ValueError:
            continue
    return lines


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    """Start a service process in the ops environment; all are stopped at the end."""
    started: list[Process] = []

    def _start(name: str, **overrides: str) -> Process:
        environ = ops_environ(LOG_FORMAT="json", METRICS_HOST="127.0.0.1", **overrides)
        process = Process(name, environ, tmp_path).start()
        started.append(process)
        return process

    yield _start
    for process in started:
        assert process.stop() is not None


def test_relay_serves_its_counters_and_logs_each_event_with_its_ids(
    start: Any, container_ops: Container
) -> None:
    port = env.free_port()
    relay = start("relay", RELAY_METRICS_PORT=str(port))
    wait_until(lambda: sample(port, "outbox_relay_published_total") is not None, timeout=30)
    before = sample(port, "outbox_relay_published_total")
    assert before is not None

    payment = place(container_ops)
    wait_until(
        lambda: (sample(port, "outbox_relay_published_total") or 0) >= before + 1, timeout=30
    )
    with container_ops.engine.connect() as conn:
        ce_id = conn.execute(
            text("SELECT event_id::text FROM outbox WHERE message_key = :k"),
            {"k": str(payment.id)},
        ).scalar_one()
    line = wait_until(
        lambda: next((x for x in json_lines(relay) if x.get("ce_id") == ce_id), None), timeout=10
    )
    assert line["payment_id"] == str(payment.id)
    assert line["logger"] == "payments.relay" and line["level"] == "INFO"
    assert sample(port, "outbox_relay_errors_total") is None  # no failure, no labelled series


def test_workers_serve_dramatiq_metrics_and_log_json_with_message_ids(
    start: Any, settings_ops: Settings
) -> None:
    port = env.free_port()
    namespace = f"{settings_ops.dramatiq_namespace}-daemon"  # its dead letter stays its own
    worker = start("worker", WORKER_METRICS_PORT=str(port), DRAMATIQ_NAMESPACE=namespace)
    broker = RedisBroker(
        client=redis.Redis.from_url(settings_ops.redis_url), namespace=namespace, middleware=[]
    )
    import tasks

    message = broker.enqueue(
        tasks.send_payment_email.message(str(uuid.uuid4()))  # unknown payment: dead-lettered
    )
    labels = {"actor_name": "send_payment_email"}
    wait_until(
        lambda: (sample(port, "dramatiq_message_rejects_total", **labels) or 0) >= 1, timeout=40
    )
    assert (sample(port, "dramatiq_messages_total", **labels) or 0) >= 1
    wait_until(
        lambda: any(x.get("message_id") == message.message_id for x in json_lines(worker)),
        timeout=10,
    )
    broker.close()
