"""The pool pings a connection only after it sat idle, and replaces one the server dropped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from payments.config import Settings
from payments.db import engine as engine_module
from payments.db.engine import make_engine

IDLE_S = 0.3


@pytest.fixture
def pinged(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> Iterator[tuple[Engine, list[float]]]:
    """An engine of one connection whose pings are noted."""
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE_S", IDLE_S)
    engine = make_engine(settings.database_url, pool_size=1)
    pings: list[float] = []
    real_ping = engine.dialect.do_ping

    def noted(dbapi_connection: Any) -> bool:
        pings.append(time.monotonic())
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", noted)
    yield engine, pings
    engine.dispose()


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_in_use_is_not_pinged_and_an_idle_one_is(
    pinged: tuple[Engine, list[float]],
) -> None:
    engine, pings = pinged
    first = _backend_pid(engine)  # a new connection: no ping
    for _ in range(20):
        assert _backend_pid(engine) == first  # back within the window: no ping
    assert pings == []
    time.sleep(IDLE_S + 0.1)
    assert _backend_pid(engine) == first
    assert len(pings) == 1


def test_an_idle_connection_the_server_dropped_is_replaced_without_an_error(
    pinged: tuple[Engine, list[float]], engine: Engine
) -> None:
    pool, pings = pinged
    dropped = _backend_pid(pool)
    with engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    time.sleep(IDLE_S + 0.1)

    assert _backend_pid(pool) != dropped  # no error reached the caller
    assert len(pings) == 1
