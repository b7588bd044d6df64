"""`flask db init` upgrades a database made by an earlier release in place, keeping every row
exactly (amounts were numeric(12, 2); every ISO 4217 currency now fits)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from payments.db.engine import apply_schema, make_engine
from tests.support import env

BEFORE = Path(__file__).resolve().parents[1] / "fixtures" / "schema_before_refunds_v1.sql"


def test_an_existing_database_is_upgraded_in_place_without_losing_rows() -> None:
    with env.own_database("upgrade") as url:
        engine = make_engine(url, pool_size=1)
        try:
            apply_schema(engine, BEFORE)  # the schema as the previous release left it
            with engine.begin() as conn:
                for amount, status in (
                    ("125.50", "SUCCESS"),
                    ("9999999999.99", "FAILED"),
                    ("1.00", "PENDING"),
                ):
                    conn.execute(
                        text(
                            "INSERT INTO payments (id, status, user_name, user_email, "
                            "user_language, event_id, amount, currency) VALUES "
                            "(gen_random_uuid(), :s, 'Ana', 'a@x.io', 'en', 'evt-old', :a, 'USD')"
                        ),
                        {"a": amount, "s": status},
                    )
            apply_schema(engine)
            apply_schema(engine)  # and safe a second time
            with engine.begin() as conn:
                scale = conn.execute(
                    text(
                        "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
                        "WHERE table_name = 'payments' AND column_name = 'amount'"
                    )
                ).one()
                amounts = sorted(r[0] for r in conn.execute(text("SELECT amount FROM payments")))
                counts = dict(
                    conn.execute(
                        text("SELECT status, sum(n) FROM payment_status_counts GROUP BY status")
                    ).all()
                )
                conn.execute(
                    text(
                        "INSERT INTO payments (id, user_name, user_email, user_language, "
                        "event_id, amount, currency) VALUES (gen_random_uuid(), 'Ana', "
                        "'a@x.io', 'en', 'evt-new', 12.345, 'KWD')"
                    )
                )
                kwd = conn.execute(
                    text("SELECT amount FROM payments WHERE currency = 'KWD'")
                ).scalar_one()
        finally:
            engine.dispose()
    assert tuple(scale) == (14, 4)
    assert amounts == [Decimal("1.00"), Decimal("125.50"), Decimal("9999999999.99")]
    assert counts == {"SUCCESS": 1, "FAILED": 1}  # the finished ones, counted once
    assert kwd == Decimal("12.345")
