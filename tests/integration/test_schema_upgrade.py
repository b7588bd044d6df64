"""`flask db init` upgrades a database made by an earlier release in place, keeping every row
exactly (amounts were numeric(12, 2); every ISO 4217 currency now fits)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from payments.db.engine import make_engine
from payments.db.migrations import migrate
from tests.support import env
from tests.support.releases import BEFORE_CANCELLATION_REFUNDS, BEFORE_REFUNDS, load_release


def test_an_existing_database_is_upgraded_in_place_without_losing_rows() -> None:
    with env.own_database("upgrade") as url:
        engine = make_engine(url, pool_size=1)
        try:
            load_release(engine, BEFORE_REFUNDS)  # the schema as the previous release left it
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
            migrate(engine)
            migrate(engine)  # and safe a second time
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


def test_the_cancellations_own_refunds_are_told_apart_on_upgrade() -> None:
    """The release before by_cancellation: the cancellation's refunds are the event_cancelled
    ones made after its acceptance; one made by hand before it is not the cancellation's."""
    with env.own_database("upgrade_refunds") as url:
        engine = make_engine(url, pool_size=1)
        try:
            load_release(engine, BEFORE_CANCELLATION_REFUNDS)
            with engine.begin() as conn:
                ids = [
                    conn.execute(
                        text(
                            "INSERT INTO payments (id, status, user_name, user_email, "
                            "user_language, event_id, amount, currency, amount_reserved) VALUES "
                            "(gen_random_uuid(), 'SUCCESS', 'Ana', 'a@x.io', 'en', 'evt-c', "
                            "100, 'USD', :r) RETURNING id"
                        ),
                        {"r": reserved},
                    ).scalar_one()
                    for reserved in (10, 100)
                ]
                refund = (
                    "INSERT INTO refunds (id, payment_id, amount, currency, reason, created_at) "
                    "VALUES (gen_random_uuid(), :p, :a, 'USD', 'event_cancelled', "
                    "now() + CAST(:at AS interval)) RETURNING id"
                )
                by_hand = conn.execute(
                    text(refund), {"p": ids[0], "a": 10, "at": "-1 hour"}
                ).scalar_one()
                conn.execute(
                    text(
                        "INSERT INTO event_cancellations (event_id, created_at, updated_at) "
                        "VALUES ('evt-c', now() - interval '30 minutes', now())"
                    )
                )
                made = conn.execute(text(refund), {"p": ids[1], "a": 100, "at": "0"}).scalar_one()
            migrate(engine)
            migrate(engine)  # and safe a second time
            with engine.connect() as conn:
                flags = dict(conn.execute(text("SELECT id, by_cancellation FROM refunds")).all())
                indexes = dict(
                    conn.execute(
                        text(
                            "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c "
                            "ON c.oid = i.indexrelid WHERE c.relname LIKE 'refunds_one_%' "
                            "OR c.relname = 'outbox_published_idx'"
                        )
                    ).all()
                )
        finally:
            engine.dispose()
    assert flags == {by_hand: False, made: True}
    assert indexes == {"refunds_one_cancellation_refund": True, "outbox_published_idx": True}
