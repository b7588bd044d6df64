"""The bridge's counters in Prometheus format, and its readiness, on BRIDGE_METRICS_PORT.

`bridge_unassigned_seconds` is how long the bridge has been subscribed without holding any
partition: above zero for more than a join's few seconds, nothing is being enqueued (a stuck
group, see bridge.consumer.JOIN_GRACE_S), and the alert rules in deploy/ say so. `GET /readyz`
on the same port (`payments.probes`) answers 503 then (and while Kafka or Redis keep
failing), 200 otherwise.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge

from bridge.consumer import UNASSIGNED_ALARM_S, BridgeHooks
from payments import probes

log = logging.getLogger("payments.bridge")
FAILING_AFTER = probes.FAILING_AFTER


class BridgeMetrics:
    """Records enqueued, skipped, failed attempts and partitions held, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.enqueued = Counter(
            "bridge_enqueued",
            "Kafka records the bridge enqueued to Dramatiq.",
            registry=self.registry,
        )
        self.skipped = Counter(
            "bridge_skipped",
            "Records that could never be routed (poison), logged and skipped.",
            registry=self.registry,
        )
        self.errors = Counter(
            "bridge_errors",
            "Bridge attempts that failed (Kafka or Redis), each followed by a backoff.",
            ["error"],
            registry=self.registry,
        )
        self.partitions = Gauge(
            "bridge_assigned_partitions",
            "Partitions this bridge holds in its consumer group.",
            registry=self.registry,
        )
        self.unready: str | None = None
        self.failing = 0  # failed attempts in a row
        self.unassigned = Gauge(
            "bridge_unassigned_seconds",
            "Seconds this bridge has been subscribed without any partition (0 while it holds "
            "some).",
            registry=self.registry,
        )

    def hooks(self) -> BridgeHooks:
        """The bridge's hooks, counting here."""
        return BridgeHooks(
            on_enqueued=self.enqueued.inc,
            on_skipped=self.skipped.inc,
            on_error=self._error,
            on_assignment=self._assignment,
        )

    def _assignment(self, partitions: int, unassigned_s: float) -> None:
        self.partitions.set(partitions)
        self.unassigned.set(unassigned_s)
        self.unready = (
            f"no partition for {unassigned_s:.0f}s" if unassigned_s >= UNASSIGNED_ALARM_S else None
        )
        self.failing = 0

    def _error(self, err: BaseException) -> None:
        self.errors.labels(type(err).__name__).inc()
        self.failing += 1

    def readiness(self) -> str | None:
        """Why the bridge is not ready (None when it is): no partition for a while, or Kafka
        or Redis failing attempt after attempt."""
        return probes.failing(self.failing) or self.unready

    def serve(self, host: str, port: int) -> bool:
        """Serve /metrics, /healthz and /readyz on host:port in a background thread; False
        (logged) if it cannot."""
        return probes.serve("bridge", self.registry, self.readiness, host, port) is not None
