"""What the relay tells operators: one log line per published event, and Prometheus counters.

The counters live in the relay process; with RELAY_METRICS_PORT set, the relay serves them
at http://METRICS_HOST:RELAY_METRICS_PORT/metrics (Prometheus text format).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from outbox.janitor import JanitorHooks
from payments import probes
from payments.messages import OutboxMessage
from payments.recovery import Step

log = logging.getLogger("payments.relay")


class RelayMetrics:
    """Events published and failed relay attempts, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.published = Counter(
            "outbox_relay_published",
            "Outbox events the relay published to Kafka and marked published.",
            registry=self.registry,
        )
        self.errors = Counter(
            "outbox_relay_errors",
            "Relay attempts that failed (Kafka or PostgreSQL), each followed by a backoff.",
            ["error"],
            registry=self.registry,
        )

        self.purged = Counter(
            "outbox_purged",
            "Published outbox rows deleted after OUTBOX_RETENTION_HOURS.",
            registry=self.registry,
        )
        self.redriven = Counter(
            "payments_redriven",
            "Stalled payments the self-healing sweep re-drove, by step.",
            ["step"],
            registry=self.registry,
        )
        self.still_queued = Counter(
            "payments_redrive_skipped",
            "Stalled payments the sweep left alone because their step's message is still in "
            "Redis (a backlog, not a loss), by step.",
            ["step"],
            registry=self.registry,
        )
        self.janitor_errors = Counter(
            "janitor_errors",
            "Janitor rounds that failed, by task (sweep or purge).",
            ["task"],
            registry=self.registry,
        )
        for step in [*Step, "refund"]:  # every series exists from the start, at 0
            self.redriven.labels(str(step))
        for step in Step:
            self.still_queued.labels(step.value)
        for task in ("sweep", "purge"):
            self.janitor_errors.labels(task)

    def janitor_hooks(self) -> JanitorHooks:
        """The janitor's hooks, counting here."""
        return JanitorHooks(
            on_purged=self.purged.inc,
            on_redriven=lambda step: self.redriven.labels(step.value).inc(),
            on_still_queued=lambda step: self.still_queued.labels(step.value).inc(),
            on_redriven_refunds=self.redriven.labels("refund").inc,
            on_error=lambda task, err: self.janitor_errors.labels(task).inc(),
        )

    def on_published(self, count: int) -> None:
        """The relay's `on_published` hook."""
        self.published.inc(count)

    def on_error(self, err: BaseException) -> None:
        """The relay's `on_error` hook."""
        self.errors.labels(type(err).__name__).inc()

    def serve(self, host: str, port: int, readiness: probes.Readiness) -> bool:
        """Serve /metrics, /healthz and /readyz (asking `readiness`) on host:port in a
        background thread; False (logged) if it cannot."""
        return probes.serve("relay", self.registry, readiness, host, port) is not None


class LoggingPublisher:
    """Wraps a publisher: logs one line per event once Kafka acknowledged it."""

    def __init__(self, inner: Any):
        self.inner = inner

    def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish through the wrapped publisher, then log each event with its ids."""
        try:
            self.inner.publish(messages)
        except Exception as err:  # a partial failure may name the acknowledged messages
            self._log([messages[i] for i in getattr(err, "acked", ())])
            raise
        self._log(messages)

    @staticmethod
    def _log(messages: Sequence[OutboxMessage]) -> None:
        for m in messages:
            log.info(
                "published %s to %s",
                m.message_type,
                m.topic,
                extra={"payment_id": m.key, "ce_id": str(m.message_id), "topic": m.topic},
            )

    def close(self) -> None:
        """Close the wrapped publisher."""
        self.inner.close()
