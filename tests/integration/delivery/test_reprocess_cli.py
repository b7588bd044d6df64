"""`flask payments reprocess`: the right step for each payment, exit codes, real enqueues."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
import redis
from dramatiq import Message
from flask import Flask
from flask.cli import cli as flask_cli  # every group of the `flask.commands` entry points
from sqlalchemy import Engine

from ops import reprocess as cli_payments
from payments import services
from payments.adapters.gateway import FakeGateway
from payments.bootstrap import Container
from payments.recovery import Step
from tests.support import env
from tests.support.factories import place
from tests.support.procs import BIN, ROOT


def staged_payments(container: Container) -> dict[str, uuid.UUID]:
    """One payment stopped at each step, and one finished."""
    uow, ids = container.uow, {}
    ids["new"] = place(container).id
    ids["opened"] = place(container).id
    services.open_transaction(uow(), ids["opened"])
    ids["settled"] = place(container, token="ODD12").id
    services.charge_payment(uow(), FakeGateway(), ids["settled"])
    ids["done"] = place(container).id
    services.charge_payment(uow(), FakeGateway(), ids["done"])
    services.notify(uow(), lambda p, k, d=None: None, _Mailer(), ids["done"])  # type: ignore[arg-type]
    return ids


class _Mailer:
    def send(self, email: object) -> str:
        return "<sent@test>"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Step, str]]]:
    """Record the enqueues instead of sending them to Redis."""
    calls: list[tuple[Step, str]] = []
    monkeypatch.setattr(
        cli_payments,
        "senders",
        lambda: {step: (lambda target, s=step: calls.append((s, target))) for step in Step},
    )
    yield calls


def invoke(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(flask_cli, args=["payments", "reprocess", *args])


def test_each_payment_is_redriven_from_its_current_step(
    delivery_app: Flask, delivery_container: Container, delivery_engine: Engine, sent
) -> None:
    ids = staged_payments(delivery_container)
    result = invoke(delivery_app, *(str(i) for i in ids.values()))

    assert result.exit_code == 0, result.output
    assert sorted(sent) == sorted(
        [
            (Step.CHARGE, str(ids["new"])),
            (Step.CHARGE, str(ids["opened"])),
            (Step.NOTIFY, str(ids["settled"])),
        ]
    )
    assert "re-drove 3 payment(s): charge 2, notify 1" in result.output
    assert "1 payment(s) already finished" in result.output


def test_stuck_for_takes_only_unfinished_payments_idle_that_long(
    delivery_app: Flask, delivery_container: Container, sent
) -> None:
    ids = staged_payments(delivery_container)

    assert invoke(delivery_app, "--stuck-for", "1h").exit_code == 0
    assert not {target for _, target in sent} & {str(i) for i in ids.values()}

    assert invoke(delivery_app, "--stuck-for", "0s", "--dry-run").exit_code == 0
    assert sent == []  # a dry run enqueues nothing
    result = invoke(delivery_app, "--stuck-for", "0s")
    assert result.exit_code == 0, result.output
    redriven = {target for _, target in sent}
    assert str(ids["new"]) in redriven and str(ids["settled"]) in redriven
    assert str(ids["done"]) not in redriven


def test_unknown_ids_exit_1_with_one_line(delivery_app: Flask, delivery_container, sent) -> None:
    known, unknown = place(delivery_container).id, uuid.uuid4()
    result = invoke(delivery_app, str(known), str(unknown))

    assert result.exit_code == 1
    assert sent == [(Step.CHARGE, str(known))]
    assert result.output.strip().splitlines()[-1] == f"Error: 1 unknown payment id(s): {unknown}"


@pytest.mark.parametrize(
    "args",
    [[], ["not-a-uuid"], ["--stuck-for", "soon"], [str(uuid.uuid4()), "--stuck-for", "5m"]],
)
def test_bad_usage_exits_2(delivery_app: Flask, args: list[str], sent) -> None:
    result = invoke(delivery_app, *args)
    assert result.exit_code == 2, result.output
    assert sent == []


def test_a_failing_enqueue_exits_1_with_one_line(
    delivery_app: Flask, delivery_container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(target: str) -> None:
        raise ConnectionRefusedError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(cli_payments, "senders", lambda: dict.fromkeys(Step, refuse))
    pid = place(delivery_container).id
    result = invoke(delivery_app, str(pid))
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: could not enqueue charge for payment {pid} (0 of 1")
    assert "Connection refused" in last


def _flask(*args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "payments", "reprocess", *args],
        cwd=ROOT,
        env=env.base_env(**env_overrides),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_command_enqueues_real_dramatiq_messages(
    delivery_url: str, delivery_container: Container, settings
) -> None:
    namespace = f"test-reprocess-{uuid.uuid4().hex[:8]}"
    pid = place(delivery_container).id
    result = _flask(str(pid), DATABASE_URL=delivery_url, DRAMATIQ_NAMESPACE=namespace)

    assert result.returncode == 0, result.stderr
    client = redis.Redis.from_url(settings.redis_url)
    try:
        messages = [Message.decode(m) for m in client.hvals(f"{namespace}:gateway.msgs")]
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
    finally:
        client.close()
    assert [(m.actor_name, m.args) for m in messages] == [("charge_payment", (str(pid),))]


def test_redis_or_database_down_exit_1_with_one_line(delivery_url: str, delivery_container) -> None:
    pid = place(delivery_container).id
    no_redis = _flask(
        str(pid), DATABASE_URL=delivery_url, REDIS_URL=f"redis://127.0.0.1:{env.free_port()}/0"
    )
    assert no_redis.returncode == 1
    assert no_redis.stderr.strip().splitlines()[-1].startswith("Error: could not enqueue")

    no_db = _flask(
        "--stuck-for",
        "5m",
        DATABASE_URL=f"postgresql+psycopg://root@127.0.0.1:{env.free_port()}/nowhere",
    )
    assert no_db.returncode == 1
    lines = no_db.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: could not read payments"), lines
