"""Refunds that could not reach the gateway: retried within their window, then FAILED for
the team to see (`flask refunds list`) and re-drive (`flask refunds retry`), on real
PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import Engine, text

from payments import refunds, services
from payments.adapters.gateway import FakeGateway
from payments.bootstrap import Container
from payments.domain.refund import RefundReason, RefundStatus
from payments.errors import NotReady
from tests.integration.ops.conftest import run
from tests.support.factories import place

HOUR = timedelta(hours=1)


def _refund(container: Container, event_id: str, amount: str = "25.00") -> uuid.UUID:
    """A PENDING refund of a paid payment of `event_id`."""
    payment = place(container, event_id=event_id)
    services.charge_payment(container.uow(), FakeGateway(), payment.id)
    refund = refunds.request_refund(
        container.uow(), payment.id, Decimal(amount), RefundReason.REQUESTED_BY_CUSTOMER
    )
    return refund.id


def _row(engine: Engine, refund_id: uuid.UUID) -> dict:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                text("SELECT status, failure_reason, next_attempt_at FROM refunds WHERE id = :r"),
                {"r": refund_id},
            )
            .one()
            ._mapping
        )


def _events(engine: Engine, refund_id: uuid.UUID) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_type FROM outbox WHERE payload->>'refund_id' = :r ORDER BY id"),
            {"r": str(refund_id)},
        )
        return [r[0] for r in rows]


def test_a_refund_the_gateway_cannot_take_waits_within_its_window_then_fails(
    container_ops: Container, engine_ops: Engine
) -> None:
    refund_id = _refund(container_ops, f"evt-{uuid.uuid4().hex[:8]}")
    decided = refunds.retry_refund_later(container_ops.uow(), refund_id, timedelta(minutes=5), HOUR)
    assert decided is refunds.Retry.LATER
    row = _row(engine_ops, refund_id)
    assert row["status"] == "PENDING" and row["next_attempt_at"] is not None
    assert _events(engine_ops, refund_id) == ["refund.pending"]  # no promise broken yet

    gave_up = refunds.retry_refund_later(container_ops.uow(), refund_id, timedelta(0), timedelta(0))
    assert gave_up is refunds.Retry.GAVE_UP
    assert _row(engine_ops, refund_id)["failure_reason"] == "gateway_unavailable"
    finished = refunds.retry_refund_later(container_ops.uow(), refund_id, timedelta(0), HOUR)
    assert finished is refunds.Retry.FINISHED
    assert _events(engine_ops, refund_id) == ["refund.pending", "refund.failed"]


def test_failed_refunds_are_listed_and_retried_under_the_same_id(
    app_ops: Flask, container_ops: Container, engine_ops: Engine
) -> None:
    event = f"evt-{uuid.uuid4().hex[:8]}"
    failed = [_refund(container_ops, event) for _ in range(2)]
    moving = _refund(container_ops, event)
    for refund_id in failed:
        assert refunds.give_up_refund(container_ops.uow(), refund_id)

    listed = run(app_ops, "refunds", "list", "--status", "failed", "--event", event)
    assert listed.exit_code == 0, listed.output
    lines = [line for line in listed.output.splitlines() if line.startswith(str(failed[0])[:8])]
    assert (
        len(lines) == 1
        and " FAILED 25.00 USD requested_by_customer gateway_unavailable " in lines[0]
    )
    assert {line.split()[0] for line in listed.output.splitlines() if "FAILED" in line} == {
        str(r) for r in failed
    }

    retried = run(app_ops, "refunds", "retry", "--failed", "--event", event)
    assert retried.exit_code == 0, retried.output
    assert "retried 2 refund(s)" in retried.output
    for refund_id in failed:
        assert _row(engine_ops, refund_id)["status"] == "PENDING"
        assert _events(engine_ops, refund_id) == [
            "refund.pending",
            "refund.failed",
            "refund.pending",
        ]
        gateway = FakeGateway()
        assert (
            refunds.refund_through_gateway(container_ops.uow(), gateway, refund_id)
            is RefundStatus.SUCCEEDED
        )
        assert gateway.refunds == [refund_id]  # the same idempotency key as the first attempt
    assert _row(engine_ops, moving)["status"] == "PENDING"  # never FAILED: left alone

    again = run(app_ops, "refunds", "retry", str(failed[0]))
    assert again.exit_code == 0, again.output
    assert f"left alone: {failed[0]} (not FAILED)" in again.output


def test_retry_refuses_bad_usage_and_unknown_ids(app_ops: Flask) -> None:
    assert run(app_ops, "refunds", "retry").exit_code == 2
    assert run(app_ops, "refunds", "retry", "not-a-uuid").exit_code == 2
    assert run(app_ops, "refunds", "retry", "--event", "e").exit_code == 2
    unknown = uuid.uuid4()
    result = run(app_ops, "refunds", "retry", str(unknown))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == f"Error: 1 unknown refund id(s): {unknown}"


def test_a_refund_pending_past_the_notice_gets_one_calm_email_then_its_outcome(
    container_ops: Container, engine_ops: Engine
) -> None:
    from payments.adapters.mailer import FakeMailer

    refund_id = _refund(container_ops, f"evt-{uuid.uuid4().hex[:8]}")
    mailer = FakeMailer()
    render = container_ops.refund_renderer

    def notify(after: timedelta) -> str | None:
        return refunds.notify_refund(container_ops.uow(), render, mailer, refund_id, after)

    with pytest.raises(NotReady):  # not delayed yet: nothing to tell
        notify(HOUR)
    early = refunds.retry_refund_later(
        container_ops.uow(), refund_id, timedelta(seconds=1), HOUR, HOUR
    )
    assert early is refunds.Retry.LATER
    due = refunds.retry_refund_later(
        container_ops.uow(), refund_id, timedelta(seconds=1), HOUR, timedelta(0)
    )
    assert due is refunds.Retry.LATER_TELL_FAN
    assert notify(timedelta(0)) is not None
    assert notify(timedelta(0)) is None  # once
    told = refunds.retry_refund_later(
        container_ops.uow(), refund_id, timedelta(seconds=1), HOUR, timedelta(0)
    )
    assert told is refunds.Retry.LATER  # already told
    assert [m.subject.split(":")[0] for m in mailer.outbox] == ["Refund on its way"]
    assert _row(engine_ops, refund_id)["status"] == "PENDING"
    with engine_ops.connect() as conn:
        emailed = conn.execute(
            text("SELECT emailed_at FROM refunds WHERE id = :r"), {"r": refund_id}
        ).scalar_one()
    assert emailed is None  # the outcome e-mail is still owed (the sweep still watches it)

    refunds.refund_through_gateway(container_ops.uow(), FakeGateway(), refund_id)
    assert notify(timedelta(0)) is not None
    assert [m.subject.split(":")[0] for m in mailer.outbox] == [
        "Refund on its way",
        "Refund confirmed",
    ]
