"""`flask events cancel` (contract section 8): the same as POST /events/<id>/cancellation,
then a progress bar until every refund of the event has finished."""

from __future__ import annotations

import uuid

from flask import Flask
from sqlalchemy import Engine, text

from payments import refunds, services
from payments.adapters.gateway import FakeGateway
from payments.bootstrap import Container
from tests.integration.ops.conftest import run
from tests.support.factories import place


def _paid(container: Container, event_id: str) -> uuid.UUID:
    payment = place(container, event_id=event_id)
    services.charge_payment(container.uow(), FakeGateway(), payment.id)
    return payment.id


def test_cancel_accepts_once_and_follows_the_refunds_to_the_end(
    app_ops: Flask, container_ops: Container, engine_ops: Engine
) -> None:
    event = f"evt-cli-{uuid.uuid4().hex[:8]}"
    paid = [_paid(container_ops, event) for _ in range(2)]

    first = run(app_ops, "events", "cancel", event, "--reason", "storm", "--no-wait")
    assert first.exit_code == 0, first.output
    assert f"event {event} cancelled" in first.output
    while not refunds.refund_cancellation_batch(container_ops.uow(), event).finished:
        pass
    with engine_ops.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text("SELECT id FROM refunds WHERE payment_id = ANY(:p)"), {"p": paid}
            )
        ]
    for refund_id in ids:
        refunds.refund_through_gateway(container_ops.uow(), FakeGateway(), refund_id)

    again = run(app_ops, "events", "cancel", event, "--timeout", "20")
    assert again.exit_code == 0, again.output
    assert "was already cancelled" in again.output
    assert "2 payment(s): 2 refunded, 0 failed, 0 pending" in again.output
    assert "USD" in again.output


def test_a_cancellation_not_finished_in_time_exits_1_with_one_line(
    app_ops: Flask, container_ops: Container
) -> None:
    event = f"evt-cli-{uuid.uuid4().hex[:8]}"
    _paid(container_ops, event)
    result = run(app_ops, "events", "cancel", event, "--timeout", "1")
    assert result.exit_code == 1
    assert "not finished after 1s" in result.output


def test_a_bad_event_id_is_a_usage_error(app_ops: Flask) -> None:
    result = run(app_ops, "events", "cancel", "x" * 65, "--no-wait")
    assert result.exit_code == 2 and "1 to 64 characters" in result.output
