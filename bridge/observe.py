"""The bridge's counters in Prometheus format, and its readiness, on BRIDGE_METRICS_PORT.

`bridge_unassigned_seconds` is how long the bridge has been subscribed without holding any
partition: above zero for more than a join's few seconds, nothing is being enqueued (a stuck
group, see bridge.consumer.JOIN_GRACE_S), and the alert rules in deploy/ say so. `GET /readyz`
on the same port answers 503 then (and while Kafka or Redis keep failing), 200 otherwise.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, Counter, Gauge, make_wsgi_app

from bridge.consumer import UNASSIGNED_ALARM_S, BridgeHooks

log = logging.getLogger("payments.bridge")
FAILING_AFTER = 5  # failed attempts in a row that make the bridge unready


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
        self._metrics_app = make_wsgi_app(self.registry)
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
        if self.failing >= FAILING_AFTER:
            return f"{self.failing} failed attempts in a row"
        return self.unready

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """WSGI: GET /readyz (200 or 503 with the reason), anything else /metrics."""
        if environ.get("PATH_INFO") == "/readyz":
            reason = self.readiness()
            status = "503 Service Unavailable" if reason else "200 OK"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [(reason or "ready").encode() + b"\n"]
        return self._metrics_app(environ, start_response)

    def serve(self, host: str, port: int) -> bool:
        """Serve /metrics and /readyz on host:port in a background thread; False (logged) if
        it cannot."""
        try:
            server = make_server(host, port, self.app, handler_class=_QuietHandler)
        except OSError as err:
            log.warning("bridge metrics not served on %s:%d: %s", host, port, err.strerror or err)
            return False
        threading.Thread(target=server.serve_forever, name="bridge-metrics", daemon=True).start()
        log.info("bridge metrics on http://%s:%d/metrics, readiness on /readyz", host, port)
        return True


class _QuietHandler(WSGIRequestHandler):
    """No access log line per scrape."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None
