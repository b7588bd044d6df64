"""The bridge's metrics and readiness port: /metrics for Prometheus, /readyz 503 while the
bridge holds no partition for long or keeps failing."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from bridge.consumer import UNASSIGNED_ALARM_S
from bridge.observe import FAILING_AFTER, BridgeMetrics
from devstack.procs import free_port


def test_readiness_follows_partitions_and_failures() -> None:
    metrics = BridgeMetrics()
    hooks = metrics.hooks()
    assert metrics.readiness() is None
    hooks.on_assignment(0, UNASSIGNED_ALARM_S + 1)
    assert "no partition" in (metrics.readiness() or "")
    hooks.on_assignment(3, 0.0)
    assert metrics.readiness() is None
    for _ in range(FAILING_AFTER):
        hooks.on_error(ConnectionError("redis down"))
    assert "failed attempts" in (metrics.readiness() or "")
    hooks.on_assignment(3, 0.0)  # a poll went through again
    assert metrics.readiness() is None


def test_the_port_serves_metrics_and_readiness() -> None:
    metrics = BridgeMetrics()
    port = free_port()
    assert metrics.serve("127.0.0.1", port)
    hooks = metrics.hooks()
    hooks.on_enqueued(4)
    hooks.on_assignment(0, UNASSIGNED_ALARM_S + 5)

    ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
    assert ready.status_code == 503 and "no partition" in ready.text
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples = {s.name: s.value for f in text_string_to_metric_families(body) for s in f.samples}
    assert samples["bridge_enqueued_total"] == 4
    assert samples["bridge_unassigned_seconds"] >= UNASSIGNED_ALARM_S + 5
    assert samples["bridge_assigned_partitions"] == 0

    hooks.on_assignment(2, 0.0)
    assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
