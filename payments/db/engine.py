"""Engine creation and schema application."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text

from payments import data_files

SCHEMA_FILE = data_files.SCHEMA_FILE
_SCHEMA_LOCK = 727_001  # advisory lock id: two `flask db init` at once apply in turn
# A pooled connection idle for this long is pinged before it is handed out; one used more
# recently is not (as HikariCP's aliveBypassWindowMs): a busy process saves a round trip per
# unit of work, and a database restart still costs at most the one unit of work that finds
# it (SQLAlchemy then drops every connection of the pool opened before the failure).
PING_AFTER_IDLE_S = 1.0


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """A pooled SQLAlchemy engine over psycopg 3, with short connect and lock timeouts."""
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        # Never quote statement parameters in errors or logs: they hold the payment token.
        hide_parameters=True,
        connect_args={"connect_timeout": 5, "application_name": "payments"},
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


# Below this line of schema.sql, each statement is run on its own outside a transaction:
# the indexes an upgrade builds on a live table (CREATE INDEX CONCURRENTLY takes no lock that
# writers wait on, and cannot run inside a transaction).
CONCURRENT_SECTION = "-- @concurrently"
_INDEX_NAME = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I
)


def apply_schema(engine: Engine, schema_file: Path = SCHEMA_FILE) -> None:
    """Apply `schema.sql`: everything above its `-- @concurrently` line in one transaction,
    then each statement below it on its own (indexes built CONCURRENTLY, an invalid one left
    by an interrupted build dropped and built again). Safe to run twice and concurrently."""
    sql = schema_file.read_text(encoding="utf-8")
    transactional, _, concurrent = sql.partition(CONCURRENT_SECTION)
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        conn.exec_driver_sql(transactional)
    statements = [s.strip() for s in _without_comments(concurrent).split(";") if s.strip()]
    if not statements:
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _SCHEMA_LOCK})
        try:
            for statement in statements:
                _drop_if_invalid(conn, statement)
                conn.exec_driver_sql(statement)
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _SCHEMA_LOCK})


def _without_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def _drop_if_invalid(conn: Connection, statement: str) -> None:
    """Before CREATE INDEX CONCURRENTLY IF NOT EXISTS: drop the index if a build that was
    interrupted left it INVALID (IF NOT EXISTS would keep it, unused, for good)."""
    found = _INDEX_NAME.search(statement)
    if found is None:
        return
    invalid = conn.execute(
        text(
            "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = :name AND pg_table_is_visible(c.oid)"
        ),
        {"name": found.group(1)},
    ).scalar()
    if invalid:
        conn.exec_driver_sql(f'DROP INDEX CONCURRENTLY IF EXISTS "{found.group(1)}"')


def ping(engine: Engine) -> None:
    """Raise unless PostgreSQL answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
