"""Engine creation (the schema is migrations.py's)."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text

# A pooled connection idle for this long is pinged before it is handed out; one used more
# recently is not (as HikariCP's aliveBypassWindowMs): a busy process saves a round trip per
# unit of work, and a database restart still costs at most the one unit of work that finds
# it (SQLAlchemy then drops every connection of the pool opened before the failure).
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, pool_size: int = 10, application_name: str = "payments") -> Engine:
    """A pooled SQLAlchemy engine over psycopg 3, with a short connect timeout;
    `application_name` is what pg_stat_activity shows for its connections."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # Never quote statement parameters in errors or logs: they hold the payment token.
        hide_parameters=True,
        connect_args={"connect_timeout": 5, "application_name": application_name},
    )
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, only for connections idle `PING_AFTER_IDLE_S` or more. A dead
    one raises DisconnectionError, on which the pool opens a new connection instead."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        returned_at = record.info.get("returned_at")  # None: a new connection, just opened
        if returned_at is None or time.monotonic() - returned_at < PING_AFTER_IDLE_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as err:
            if engine.dialect.is_disconnect(err, dbapi_connection, None):
                raise exc.DisconnectionError(str(err)) from err
            raise
        if not alive:
            raise exc.DisconnectionError("the connection did not answer a ping")


def ping(engine: Engine) -> None:
    """Raise unless PostgreSQL answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
