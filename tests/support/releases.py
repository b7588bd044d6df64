"""Databases as earlier releases left them: each release's schema.sql, applied as that
release's `flask db init` applied it (before migration steps: everything above a
`-- @concurrently` line in one transaction, then each statement below it on its own)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from payments.db.migrations import Step

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BEFORE_REFUNDS = FIXTURES / "schema_before_refunds_v1.sql"
BEFORE_CANCELLATION_REFUNDS = FIXTURES / "schema_before_cancellation_refunds.sql"
# The schema of 8d1837a (refunds retried and listed by operators; before retention by age,
# lists, API keys, Stripe and 3-D Secure): the release the upgrade-under-load test starts from.
RELEASE_8D1837A = FIXTURES / "schema_release_8d1837a.sql"


def load_release(engine: Engine, schema_file: Path) -> None:
    """Build the schema `schema_file` describes, the way its release did."""
    sql = schema_file.read_text(encoding="utf-8")
    transactional, _, concurrent = sql.partition("-- @concurrently")
    with engine.begin() as conn:
        conn.exec_driver_sql(transactional)
    statements = Step(0, schema_file.name, concurrent, concurrently=True).statements()
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            conn.exec_driver_sql(statement)
