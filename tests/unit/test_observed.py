"""The gateway and mailer wrappers count every call by outcome and time it
(payments/adapters/observed.py), whatever the call answers or raises."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from prometheus_client import REGISTRY

from payments.adapters.observed import ObservedGateway, ObservedMailer, decision_outcome
from payments.domain.gateway_rule import Decision, GatewayRefused, TransientGatewayError
from payments.domain.model import Reason, Status
from payments.ports import Charge, Email, RefundOrder, RefundOutcome

CHARGE = Charge(uuid.uuid4(), uuid.uuid4(), None, Decimal("10.00"), "USD", datetime.now(UTC))


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Answers:
    """A gateway that answers (or raises) what it is given."""

    def __init__(self, answer: Any):
        self.answer = answer

    def _give(self, *_args: object) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer

    charge = resolve = cancel_action = refund = _give


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (Decision(Status.SUCCESS), "succeeded"),
        (Decision(Status.PENDING, client_secret="pi_1_secret"), "requires_action"),
        (Decision(Status.FAILED, Reason.REJECTED_BY_GATEWAY), "rejected_by_gateway"),
        (TransientGatewayError("timed out"), "transient_error"),
        (GatewayRefused("bad key"), "refused"),
    ],
)
def test_each_charge_is_counted_by_its_outcome_and_timed(answer: Any, outcome: str) -> None:
    before = _count("gateway_requests_total", operation="charge", outcome=outcome)
    timed = _count("gateway_request_duration_seconds_count", operation="charge")
    gateway = ObservedGateway(Answers(answer))
    if isinstance(answer, Exception):
        with pytest.raises(type(answer)):
            gateway.charge(CHARGE)
    else:
        assert gateway.charge(CHARGE) is answer
    assert _count("gateway_requests_total", operation="charge", outcome=outcome) == before + 1
    assert _count("gateway_request_duration_seconds_count", operation="charge") == timed + 1


def test_refunds_and_the_other_operations_are_counted_under_their_own_names() -> None:
    order = RefundOrder(uuid.uuid4(), CHARGE.transaction_id, None, Decimal("1.00"), "USD")
    before = _count("gateway_requests_total", operation="refund", outcome="refund_pending")
    cancelled = _count(
        "gateway_requests_total", operation="cancel_action", outcome="authentication_failed"
    )
    assert ObservedGateway(Answers(RefundOutcome.PENDING)).refund(order) is RefundOutcome.PENDING
    ObservedGateway(Answers(Decision(Status.FAILED, Reason.AUTHENTICATION_FAILED))).cancel_action(
        CHARGE
    )
    assert _count("gateway_requests_total", operation="refund", outcome="refund_pending") == (
        before + 1
    )
    assert _count(
        "gateway_requests_total", operation="cancel_action", outcome="authentication_failed"
    ) == (cancelled + 1)
    assert decision_outcome(Decision(Status.FAILED)) == "failed"


class Smtp:
    def __init__(self, fails: bool):
        self.fails = fails

    def send(self, email: Email) -> str:
        if self.fails:
            raise ConnectionRefusedError("no SMTP server")
        return "<id@x>"


def test_each_email_is_counted_by_kind_as_sent_or_failed() -> None:
    email = Email("a@x.io", "s", "t", "<p>h</p>", kind="refund_delayed")
    sent = _count("emails_total", kind="refund_delayed", outcome="sent")
    failed = _count("emails_total", kind="refund_delayed", outcome="failed")
    assert ObservedMailer(Smtp(fails=False)).send(email) == "<id@x>"
    with pytest.raises(ConnectionRefusedError):
        ObservedMailer(Smtp(fails=True)).send(email)
    assert _count("emails_total", kind="refund_delayed", outcome="sent") == sent + 1
    assert _count("emails_total", kind="refund_delayed", outcome="failed") == failed + 1


def test_the_first_calls_from_many_threads_at_once_make_the_metrics_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by the soak: a worker pool's threads all send their first e-mail together after
    a restart, and a metric registered twice raised DuplicateTimeseries."""
    import threading
    import time

    from payments.adapters import observed

    made, metrics = [], observed._metrics()  # the metrics this process already has

    def slow_make() -> Any:  # as slow as it takes for every thread to arrive meanwhile
        made.append(1)
        time.sleep(0.05)
        return metrics

    monkeypatch.setattr(observed, "_made", [])  # a process that has counted nothing yet
    monkeypatch.setattr(observed, "_make", slow_make)
    start = threading.Barrier(16)

    def first_call() -> None:
        start.wait()
        observed._metrics()

    threads = [threading.Thread(target=first_call) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
