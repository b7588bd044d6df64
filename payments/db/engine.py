"""Engine creation and schema application."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, text

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.sql"
_SCHEMA_LOCK = 727_001  # advisory lock id: two `flask db init` at once apply in turn


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """A pooled SQLAlchemy engine over psycopg 3, with short connect and lock timeouts."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # Never quote statement parameters in errors or logs: they hold the payment token.
        hide_parameters=True,
        connect_args={"connect_timeout": 5, "application_name": "payments"},
    )


def apply_schema(engine: Engine, schema_file: Path = SCHEMA_FILE) -> None:
    """Apply `schema.sql` in one transaction; safe to run twice and concurrently."""
    sql = schema_file.read_text(encoding="utf-8")
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SCHEMA_LOCK})
        conn.exec_driver_sql(sql)


def ping(engine: Engine) -> None:
    """Raise unless PostgreSQL answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
