"""`flask dlq list` and `flask dlq retry` with a real Dramatiq worker on Redis."""

from __future__ import annotations

import uuid
from typing import Any

import redis
from flask import Flask

from payments import services
from payments.bootstrap import Container, bootstrap
from payments.queue.dead_letters import DeadLetters
from tests.integration.ops.conftest import ops_settings, run
from tests.support import env
from tests.support.factories import place
from tests.support.procs import wait_until


def dead_letters(container: Container) -> DeadLetters:
    settings = container.settings
    return DeadLetters(redis.Redis.from_url(settings.redis_url), settings.dramatiq_namespace)


def dead_ids(container: Container) -> set[str]:
    return {d.message_id for d in dead_letters(container).list()}


def send_charge_payment(broker: Any, payment_id: uuid.UUID) -> Any:
    """What the bridge enqueues for a payment.created event."""
    import tasks

    message = tasks.charge_payment.message_with_options(
        args=(str(payment_id),), ce_id=str(uuid.uuid4())
    )
    return broker.enqueue(message)


def transaction_of(container: Container, payment_id: uuid.UUID) -> Any:
    found = services.find_payment(container.uow(), payment_id)
    return found[1] if found else None


def test_a_dead_letter_is_listed_then_retried_once_its_precondition_holds(
    app_ops: Flask, container_ops: Container, worker_ops: Any
) -> None:
    payment_id = uuid.uuid4()  # the payment does not exist yet: the actor fails (NotFound)
    message = send_charge_payment(worker_ops, payment_id)
    wait_until(lambda: message.message_id in dead_ids(container_ops), timeout=20)

    listed = run(app_ops, "dlq", "list")
    assert listed.exit_code == 0, listed.output
    line = next(x for x in listed.output.splitlines() if x.startswith(message.message_id))
    assert "charge_payment" in line
    assert f'["{payment_id}"]' in line
    assert f"NotFound: payment {payment_id}" in line

    place(container_ops, payment_id=payment_id)
    retried = run(app_ops, "dlq", "retry", message.message_id)
    assert retried.exit_code == 0, retried.output
    assert "retried 1 messages" in retried.output

    tx = wait_until(lambda: transaction_of(container_ops, payment_id), timeout=20)
    assert tx.payment_id == payment_id
    assert message.message_id not in dead_ids(container_ops)


def test_retry_all(app_ops: Flask, container_ops: Container, worker_ops: Any) -> None:
    payment_ids = [uuid.uuid4(), uuid.uuid4()]
    messages = [send_charge_payment(worker_ops, pid) for pid in payment_ids]
    wanted = {m.message_id for m in messages}
    wait_until(lambda: wanted <= dead_ids(container_ops), timeout=20)
    for pid in payment_ids:
        place(container_ops, payment_id=pid)

    result = run(app_ops, "dlq", "retry", "--all")
    assert result.exit_code == 0, result.output
    for pid in payment_ids:
        wait_until(lambda pid=pid: transaction_of(container_ops, pid), timeout=20)
    assert not wanted & dead_ids(container_ops)
    listed = run(app_ops, "dlq", "list").output
    assert not [m for m in wanted if m in listed]


def one_line(result: Any) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def test_retry_refuses_unknown_ids_and_bad_arguments(app_ops: Flask) -> None:
    result = run(app_ops, "dlq", "retry", "no-such-id")
    assert result.exit_code == 1
    assert one_line(result) == "Error: not dead-lettered: no-such-id"
    for args in ((), ("some-id", "--all")):
        result = run(app_ops, "dlq", "retry", *args)
        assert result.exit_code == 2
        assert "message IDs or --all" in one_line(result)


def test_redis_unreachable_is_one_line(container_ops: Container) -> None:
    from web import create_app

    down = ops_settings(REDIS_URL=f"redis://127.0.0.1:{env.free_port()}/0")
    app = create_app({"TESTING": True, "CONTAINER": bootstrap(down, engine=container_ops.engine)})
    for args in (("list",), ("retry", "--all")):
        result = run(app, "dlq", *args)
        assert result.exit_code == 1
        assert one_line(result).startswith("Error: Redis unreachable")
