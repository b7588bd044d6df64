"""The bridge's counters in Prometheus format, on BRIDGE_METRICS_PORT.

`bridge_unassigned_seconds` is how long the bridge has been subscribed without holding any
partition: above zero for more than a join's few seconds, nothing is being enqueued (a stuck
group, see bridge.consumer.JOIN_GRACE_S), and the alert rules in deploy/ say so.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from bridge.consumer import BridgeHooks

log = logging.getLogger("payments.bridge")


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
            on_error=lambda err: self.errors.labels(type(err).__name__).inc(),
            on_assignment=self._assignment,
        )

    def _assignment(self, partitions: int, unassigned_s: float) -> None:
        self.partitions.set(partitions)
        self.unassigned.set(unassigned_s)

    def serve(self, host: str, port: int) -> bool:
        """Serve /metrics on host:port in a background thread; False (logged) if it cannot."""
        try:
            start_http_server(port, addr=host, registry=self.registry)
        except OSError as err:
            log.warning("bridge metrics not served on %s:%d: %s", host, port, err.strerror or err)
            return False
        log.info("bridge metrics on http://%s:%d/metrics", host, port)
        return True
