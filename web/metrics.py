"""GET /metrics: Prometheus text format.

HTTP requests are counted by route (the URL rule, never the raw path) and status as they
happen. Payments by status and the outbox backlog are read from PostgreSQL at scrape time,
with a short statement timeout so that a slow database cannot hang the scrape.

Under gunicorn with several workers, set PROMETHEUS_MULTIPROC_DIR (an empty directory, before
the workers start) so that every worker's request counts are summed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from payments import bootstrap
from payments.config import Topics
from payments.db import stats_store
from payments.db.stats_store import SqlStats
from payments.domain.model import Status
from payments.queue import names
from web.auth import ANONYMOUS
from web.logs import request_seconds

log = logging.getLogger("payments.metrics")
bp = Blueprint("metrics", __name__)

UNMATCHED_ROUTE = "<unmatched>"
SCRAPE_STATEMENT_TIMEOUT_MS = 2000


class DatabaseCollector(Collector):
    """Payments by status and the outbox backlog per topic, queried at each scrape."""

    def __init__(self, engine: Engine, topics: Topics):
        self.engine, self.topics = engine, topics

    def collect(self) -> Iterator[Metric]:
        """Yield the gauges; `payments_database_up` is 0 (and nothing else) if the query fails."""
        up = GaugeMetricFamily(
            "payments_database_up", "1 when the scrape could query PostgreSQL, else 0."
        )
        try:
            found = self._query()
        except Exception as err:  # a scrape must answer even with the database down
            log.warning("metrics query failed: %s", type(err).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield _by_status(found.payments)
        idle = GaugeMetricFamily(
            "payments_pending_oldest_idle_seconds",
            "Seconds since the longest-idle PENDING payment last moved (0 when none is "
            "pending); self-healing re-drives it after STUCK_AFTER_SECONDS.",
        )
        idle.add_metric([], _age(found.oldest_pending_move))
        yield idle
        yield from _backlog(found.backlog, self.topics)
        yield from _refunds(found.refunds)
        yield from _gateway(found.gateway)

    def _query(self) -> stats_store.Scrape:
        with self.engine.begin() as conn:
            return SqlStats(conn).scrape(SCRAPE_STATEMENT_TIMEOUT_MS)


def _by_status(counts: dict[str, int]) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily("payments_by_status", "Payments in each status.", labels=["status"])
    for status in Status:
        gauge.add_metric([status.value], counts.get(status.value, 0))
    return gauge


def _backlog(
    rows: list[tuple[str, int, datetime | None]], topics: Topics
) -> Iterator[GaugeMetricFamily]:
    count = GaugeMetricFamily(
        "outbox_unpublished_events",
        "Outbox events not yet published to Kafka, per topic.",
        labels=["topic"],
    )
    age = GaugeMetricFamily(
        "outbox_oldest_unpublished_age_seconds",
        "Age of the oldest unpublished outbox event, per topic (0 when none waits).",
        labels=["topic"],
    )
    found = {topic: (n, oldest) for topic, n, oldest in rows}
    for topic in sorted(set(topics.all()) | set(found)):
        n, oldest = found.get(topic, (0, None))
        count.add_metric([topic], n)
        age.add_metric([topic], _age(oldest))
    yield count
    yield age


def _gateway(counts: stats_store.GatewayCounts) -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "payments_awaiting_action",
        "PENDING payments whose cardholder is asked to authenticate (3-D Secure).",
    )
    waiting.add_metric([], counts.awaiting_action)
    yield waiting
    oldest = GaugeMetricFamily(
        "payments_awaiting_action_oldest_age_seconds",
        "Seconds the longest 3-D Secure authentication has waited (0 when none); cancelled "
        "after PAYMENT_ACTION_TIMEOUT_S.",
    )
    oldest.add_metric([], _age(counts.oldest_action))
    yield oldest
    strays = GaugeMetricFamily(
        "gateway_stray_charges",
        "Charges that succeeded for a payment that had failed (a 3-D Secure completed after "
        "its expiry), by the outcome of their automatic refund (pending, succeeded, failed).",
        labels=["outcome"],
    )
    for outcome in ("pending", "succeeded", "failed"):
        strays.add_metric([outcome], counts.strays.get(outcome, 0))
    yield strays


def _refunds(counts: stats_store.RefundCounts) -> Iterator[Metric]:
    finished = CounterMetricFamily(
        "refunds",
        "Refunds finished, by status, reason and failure reason (FAILED gateway_unavailable: "
        "the gateway was unreachable for REFUND_RETRY_HOURS; flask refunds retry).",
        labels=["status", "reason", "failure_reason"],
    )
    for (status, reason, failure), n in sorted(counts.finished.items()):
        finished.add_metric([status, reason, failure], n)
    yield finished
    pending = GaugeMetricFamily("refunds_pending", "Refunds not yet finished.")
    pending.add_metric([], counts.pending)
    yield pending
    oldest = GaugeMetricFamily(
        "refunds_pending_oldest_age_seconds",
        "Seconds since the oldest PENDING refund was requested (0 when none is pending).",
    )
    oldest.add_metric([], _age(counts.oldest_pending))
    yield oldest
    scanning = GaugeMetricFamily(
        "event_cancellations_in_progress",
        "Cancelled events whose payments are still being scanned for their refunds.",
    )
    scanning.add_metric([], counts.cancellations_scanning)
    yield scanning
    oldest_cancellation = GaugeMetricFamily(
        "event_cancellations_oldest_age_seconds",
        "Seconds since the oldest cancellation still scanning was accepted (0 when none).",
    )
    oldest_cancellation.add_metric([], _age(counts.oldest_cancellation))
    yield oldest_cancellation


def _age(since: datetime | None) -> float:
    """Seconds from `since` to now, 0 for None."""
    return max(0.0, (datetime.now(UTC) - since).total_seconds()) if since else 0.0


class DeadLetterCollector(Collector):
    """Dramatiq's dead letters per queue, counted in Redis at each scrape (one ZCARD per
    queue the service has)."""

    def __init__(self, dead_letters: Any, queues: tuple[str, ...]):
        self.dead_letters, self.queues = dead_letters, queues

    def collect(self) -> Iterator[Metric]:
        """Yield `dramatiq_dead_letters{queue}`; nothing (logged) when Redis does not answer."""
        try:
            counts = self.dead_letters.counts(self.queues)
        except Exception as err:  # a scrape must answer even with Redis down
            log.warning("dead-letter count failed: %s", type(err).__name__)
            return
        gauge = GaugeMetricFamily(
            "dramatiq_dead_letters",
            "Dead-lettered Dramatiq messages waiting in each queue (flask dlq list).",
            labels=["queue"],
        )
        for queue, n in counts.items():
            gauge.add_metric([queue], n)
        yield gauge


class HttpMetrics:
    """Request counts and durations by method, route and status; the API's requests also by
    the API key that made them (its NAME, `API_KEYS` for those keys, or `anonymous`)."""

    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter(
            "http_requests",
            "HTTP requests handled, by method, route (URL rule) and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time spent handling HTTP requests, by method and route.",
            ["method", "route"],
            registry=registry,
        )
        self.by_key = Counter(
            "http_requests_by_key",
            "Requests to /payments, /refunds and /events by API key NAME (API_KEYS for the "
            "keys of that setting, anonymous while the API is open) and status.",
            ["api_key", "status"],
            registry=registry,
        )

    def observe(self, response: Response) -> Response:
        """Count the finished request (an after_request hook)."""
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
        self.requests.labels(request.method, route, str(response.status_code)).inc()
        self.duration.labels(request.method, route).observe(request_seconds())
        key = key_label()
        if key is not None:
            self.by_key.labels(key, str(response.status_code)).inc()
        return response


def key_label() -> str | None:
    """Whom the API's request is counted against, by name; None for requests that were not
    authenticated (health, docs, metrics, or refused before a caller was known)."""
    scope = g.get("caller_scope")
    if scope is None:
        return None
    name = g.get("api_key_name")
    if name:
        return str(name)
    return "anonymous" if scope == ANONYMOUS else "API_KEYS"


def _scrape_registry() -> CollectorRegistry:
    """This app's registry, or, in multi-process mode, every process's counters plus the DB."""
    state = current_app.extensions["payments.metrics"]
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return state["registry"]
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    for collector in state["scraped"]:
        registry.register(collector)
    return registry


@bp.get("/metrics")
def metrics() -> Any:
    """Prometheus text exposition of this service's metrics."""
    return Response(
        generate_latest(_scrape_registry()), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


def init_app(app: Flask) -> CollectorRegistry:
    """Create the app's registry, count every request and serve GET /metrics; the registry
    (for the other extensions' counters)."""
    container = bootstrap.container_of(app)
    registry = CollectorRegistry()
    database = DatabaseCollector(container.engine, container.settings.topics)
    registry.register(database)
    dead_letters = DeadLetterCollector(container.dead_letters(), names.QUEUES)
    registry.register(dead_letters)
    http = HttpMetrics(registry)
    app.extensions["payments.metrics"] = {"registry": registry, "scraped": (database, dead_letters)}

    # The request's start time is recorded once, by web.logs (registered before this).
    app.after_request(http.observe)
    app.register_blueprint(bp)
    return registry
