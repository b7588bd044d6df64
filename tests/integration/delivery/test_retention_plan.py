"""Retention by age, whatever the ids (contract section 10): published rows past
OUTBOX_RETENTION_HOURS that sit behind recent rows and an unpublished one with lower ids (a
history imported, a replay, a restored backup) are all deleted by the janitor alone, a batch
at a time off the published_at index. The plan is checked as the claim's is
(test_claim_plan.py): no timing, the cost itself is in `make bench`'s history phase."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql

from outbox.janitor import PURGE_BATCH, PURGE_MAX_BATCHES, Janitor
from payments.bootstrap import bootstrap
from payments.db import outbox_store
from tests.support import env
from tests.support.wiring import schema_engine

RECENT, PAST_RETENTION = 1_000, 200_000
RETENTION_S = 168 * 3600


@pytest.fixture(scope="module")
def buried_history() -> Iterator[tuple[str, Engine]]:
    """One unpublished row, then 1,000 recent published ones, then 200,000 published 30 days
    ago: by id, every old row is behind rows that retention must keep."""
    with env.own_database("retention") as url, schema_engine(url, pool_size=2) as engine:
        libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO outbox (event_id, topic, event_type, message_key, payload) "
                "VALUES (gen_random_uuid(), 'T', 'payment.created', 'stuck', '{}')"
            )
            for count, ago in ((RECENT, "0"), (PAST_RETENTION, "30 days")):
                conn.execute(
                    "INSERT INTO outbox (event_id, topic, event_type, message_key, payload, "
                    "published_at) SELECT gen_random_uuid(), 'T', 'payment.succeeded', "
                    "md5(g::text), '{}'::jsonb, now() - CAST(%s AS interval) "
                    "FROM generate_series(1, %s) g",
                    (ago, count),
                )
            conn.execute("VACUUM ANALYZE outbox")
        yield libpq, engine


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_a_purge_batch_reads_the_oldest_published_rows_off_their_index(
    buried_history: tuple[str, Engine],
) -> None:
    libpq, _engine = buried_history
    statement = outbox_store.purge_statement(RETENTION_S, PURGE_BATCH)
    sql = str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )
    with psycopg.connect(libpq) as conn:
        (raw,) = conn.execute("EXPLAIN (FORMAT JSON) " + sql).fetchone()  # type: ignore[misc]
        conn.rollback()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    scans = [n for n in _nodes(plan) if n.get("Relation Name") == "outbox"]
    picked = [n for n in scans if n.get("Index Name") == "outbox_published_idx"]
    assert picked, f"the batch is not read off outbox_published_idx: {json.dumps(plan)[:2000]}"
    assert not [n for n in scans if n["Node Type"] == "Seq Scan"], "a batch scans the outbox"


def test_the_janitor_alone_deletes_every_row_past_retention_whatever_comes_first(
    buried_history: tuple[str, Engine],
) -> None:
    _libpq, engine = buried_history
    janitor = Janitor(bootstrap(env.settings(), engine=engine))
    purged = 0
    rounds = PAST_RETENTION // (PURGE_BATCH * PURGE_MAX_BATCHES) + 1
    for _ in range(rounds):  # each round of the relay's janitor, as it runs them
        purged += janitor.purge()
    with engine.connect() as conn:
        left = dict(
            conn.execute(
                text(
                    "SELECT CASE WHEN published_at IS NULL THEN 'unpublished' "
                    "WHEN published_at > now() - interval '1 day' THEN 'recent' "
                    "ELSE 'past retention' END, count(*) FROM outbox GROUP BY 1"
                )
            ).all()
        )
    assert purged == PAST_RETENTION
    assert left == {"unpublished": 1, "recent": RECENT}
