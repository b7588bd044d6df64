"""What the workers do at the service's edges, counted for Prometheus: every gateway call
(operation, outcome, duration) and every e-mail (kind, sent or failed). Wrappers around the
Gateway and Mailer ports, put around the real adapters by the composition root.

prometheus_client picks its multi-process mode when first imported (a Dramatiq worker's
middleware sets PROMETHEUS_MULTIPROC_DIR first: tasks/worker_metrics.py), so the metrics
are made, and prometheus_client imported, at the first call, never at import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from payments.domain.gateway_rule import Decision, GatewayRefused, TransientGatewayError
from payments.domain.model import Status
from payments.ports import Charge, Email, Gateway, Mailer, RefundOrder, RefundOutcome

T = TypeVar("T")
# Seconds: a simulator answers in a millisecond, Stripe in a few hundred, a timeout at 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class _Metrics:
    gateway_requests: Any
    gateway_duration: Any
    emails: Any


_made: list[_Metrics] = []
_making = threading.Lock()


def _metrics() -> _Metrics:
    """The metrics, made once per process: the first calls come from many worker threads at
    once, and a metric registered twice raises DuplicateTimeseries."""
    if _made:
        return _made[0]
    with _making:
        if not _made:
            _made.append(_make())
    return _made[0]


def _make() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        gateway_requests=Counter(
            "gateway_requests",
            "Calls to the payment gateway, by operation and outcome (succeeded, "
            "requires_action, a failure reason, refund_pending, transient_error, refused).",
            ["operation", "outcome"],
        ),
        gateway_duration=Histogram(
            "gateway_request_duration_seconds",
            "How long each call to the payment gateway took, whatever its outcome.",
            ["operation"],
            buckets=LATENCY_BUCKETS,
        ),
        emails=Counter(
            "emails",
            "E-mails handed to the SMTP server (sent) or refused by it (failed), by kind.",
            ["kind", "outcome"],
        ),
    )


def decision_outcome(decision: Decision) -> str:
    """A charge's outcome as a label: succeeded, requires_action, or the failure reason."""
    if decision.status is Status.SUCCESS:
        return "succeeded"
    if decision.status is Status.PENDING:
        return "requires_action"
    return decision.reason.value if decision.reason is not None else "failed"


def _observed(operation: str, call: Callable[[], T], outcome_of: Callable[[T], str]) -> T:
    metrics, started = _metrics(), time.perf_counter()
    try:
        result = call()
    except TransientGatewayError:
        outcome = "transient_error"
        raise
    except GatewayRefused:
        outcome = "refused"
        raise
    except Exception:
        outcome = "error"
        raise
    else:
        outcome = outcome_of(result)
        return result
    finally:
        metrics.gateway_duration.labels(operation).observe(time.perf_counter() - started)
        metrics.gateway_requests.labels(operation, outcome).inc()


def _refund_outcome(outcome: RefundOutcome) -> str:
    return f"refund_{outcome.value}"


class ObservedGateway:
    """The gateway port, each call counted and timed."""

    def __init__(self, inner: Gateway):
        self.inner = inner

    def charge(self, charge: Charge) -> Decision:
        return _observed("charge", lambda: self.inner.charge(charge), decision_outcome)

    def resolve(self, charge: Charge) -> Decision:
        return _observed("resolve", lambda: self.inner.resolve(charge), decision_outcome)

    def cancel_action(self, charge: Charge) -> Decision:
        return _observed(
            "cancel_action", lambda: self.inner.cancel_action(charge), decision_outcome
        )

    def refund(self, order: RefundOrder) -> RefundOutcome:
        return _observed("refund", lambda: self.inner.refund(order), _refund_outcome)


class ObservedMailer:
    """The mailer port, each e-mail counted by kind as sent or failed."""

    def __init__(self, inner: Mailer):
        self.inner = inner

    def send(self, email: Email) -> str:
        counter = _metrics().emails
        try:
            message_id = self.inner.send(email)
        except Exception:
            counter.labels(email.kind or "unknown", "failed").inc()
            raise
        counter.labels(email.kind or "unknown", "sent").inc()
        return message_id
