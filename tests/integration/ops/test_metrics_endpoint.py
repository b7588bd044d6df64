"""GET /metrics on real PostgreSQL and Kafka: the backlog gauge follows the outbox."""

from __future__ import annotations

import uuid

from flask import Flask
from prometheus_client.parser import text_string_to_metric_families

from payments.bootstrap import Container
from payments.config import Settings
from tests.integration.ops.conftest import drain_outbox
from tests.support.factories import place


def scrape(app: Flask) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of GET /metrics, by name and labels."""
    response = app.test_client().get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for s in family.samples
    }


def test_backlog_gauge_moves_with_the_outbox(
    app_ops: Flask, container_ops: Container, settings_ops: Settings
) -> None:
    topic = settings_ops.topics.payment_created
    backlog = ("outbox_unpublished_events", (("topic", topic),))
    age = ("outbox_oldest_unpublished_age_seconds", (("topic", topic),))
    pending = ("payments_by_status", (("status", "PENDING"),))
    drain_outbox(container_ops)
    before = scrape(app_ops)
    assert before[("payments_database_up", ())] == 1
    assert before[backlog] == 0 and before[age] == 0

    place(container_ops)
    waiting = scrape(app_ops)
    assert waiting[backlog] == before[backlog] + 1
    assert waiting[pending] == before[pending] + 1
    assert waiting[age] >= 0

    assert drain_outbox(container_ops) == 1
    after = scrape(app_ops)
    assert after[backlog] == before[backlog]
    assert after[age] == 0


def test_requests_are_counted_by_route_not_by_path(app_ops: Flask) -> None:
    client = app_ops.test_client()
    route = ("route", "/payments/<payment_id>")
    key = ("http_requests_total", (("method", "GET"), route, ("status", "404")))
    before = scrape(app_ops).get(key, 0)
    for _ in range(2):
        assert client.get(f"/payments/{uuid.uuid4()}").status_code == 404
    samples = scrape(app_ops)
    assert samples[key] == before + 2
    routes = {dict(labels).get("route") for name, labels in samples if name.startswith("http_")}
    assert "/payments/<payment_id>" in routes
    assert not [r for r in routes if r and r.startswith("/payments/") and "<" not in r]
    unmatched = (
        "http_requests_total",
        (("method", "GET"), ("route", "<unmatched>"), ("status", "404")),
    )
    client.get("/no/such/thing")
    assert scrape(app_ops)[unmatched] >= 1


def test_the_longest_idle_pending_payment_is_timed_from_its_last_move(
    app_ops: Flask, container_ops: Container
) -> None:
    from sqlalchemy import text

    idle = ("payments_pending_oldest_idle_seconds", ())
    payment = place(container_ops)
    with container_ops.engine.begin() as conn:
        conn.execute(
            text("UPDATE payments SET updated_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": payment.id},
        )
    try:
        assert 3600 <= scrape(app_ops)[idle] < 3700
    finally:
        with container_ops.engine.begin() as conn:
            conn.execute(text("DELETE FROM outbox WHERE message_key = :k"), {"k": str(payment.id)})
            conn.execute(text("DELETE FROM payments WHERE id = :id"), {"id": payment.id})


def test_dead_letters_are_counted_per_queue(app_ops: Flask, container_ops: Container) -> None:
    client = container_ops.redis
    key = f"{container_ops.settings.dramatiq_namespace}:email.XQ"
    before = scrape(app_ops)[("dramatiq_dead_letters", (("queue", "email"),))]
    client.zadd(key, {str(uuid.uuid4()): 1.0 for _ in range(2)})
    try:
        samples = scrape(app_ops)
        assert samples[("dramatiq_dead_letters", (("queue", "email"),))] == before + 2
        assert ("dramatiq_dead_letters", (("queue", "gateway"),)) in samples
    finally:
        client.delete(key)


def test_refunds_are_counted_as_they_finish_and_the_oldest_pending_is_timed(
    app_ops: Flask, container_ops: Container
) -> None:
    from decimal import Decimal

    from payments import refunds, services
    from payments.adapters.gateway import FakeGateway
    from payments.domain.refund import RefundReason

    reason = RefundReason.DUPLICATE.value
    succeeded = (
        "refunds_total",
        (("failure_reason", ""), ("reason", reason), ("status", "SUCCEEDED")),
    )
    failed = (
        "refunds_total",
        (("failure_reason", "gateway_unavailable"), ("reason", reason), ("status", "FAILED")),
    )
    pending, oldest = ("refunds_pending", ()), ("refunds_pending_oldest_age_seconds", ())
    payment = place(container_ops)
    services.charge_payment(container_ops.uow(), FakeGateway(), payment.id)
    before = scrape(app_ops)

    made = [
        refunds.request_refund(
            container_ops.uow(), payment.id, Decimal("10.00"), RefundReason.DUPLICATE
        )
        for _ in range(2)
    ]
    waiting = scrape(app_ops)
    assert waiting[pending] == before[pending] + 2 and waiting[oldest] >= 0

    refunds.refund_through_gateway(container_ops.uow(), FakeGateway(), made[0].id)
    refunds.give_up_refund(container_ops.uow(), made[1].id)
    after = scrape(app_ops)
    assert after[pending] == before[pending]
    assert after[succeeded] == before.get(succeeded, 0) + 1
    assert after[failed] == before.get(failed, 0) + 1
