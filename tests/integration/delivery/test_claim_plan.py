"""The relay's claim keeps its shape whatever the statistics say: a backlog that built up after
the outbox was analysed while nothing waited (the usual moment) must not make PostgreSQL
compare every candidate with every unpublished row. Checked on the plan PostgreSQL runs (no
timing: the cost itself is in `make bench`'s history phase)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql

from payments.db import outbox_store
from tests.support import env
from tests.support.wiring import schema_engine

BATCH, BACKLOG, RETAINED = 500, 20_000, 50_000


@pytest.fixture(scope="module")
def stale_outbox() -> Iterator[str]:
    """A database whose outbox was analysed with only published rows, then got a backlog."""
    with env.own_database("claimplan") as url, schema_engine(url, pool_size=1):
        libpq = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO outbox (event_id, topic, event_type, message_key, payload, "
                "published_at) SELECT md5('r' || g)::uuid, 'T', 'payment.succeeded', "
                "md5('k' || g), '{}'::jsonb, now() FROM generate_series(1, %s) g",
                (RETAINED,),
            )
            conn.execute("VACUUM ANALYZE outbox")
            conn.execute(
                "INSERT INTO outbox (event_id, topic, event_type, message_key, payload) "
                "SELECT md5('b' || g)::uuid, 'T', 'payment.created', md5('p' || (g / 2)), "
                "'{}'::jsonb FROM generate_series(1, %s) g",
                (BACKLOG,),
            )
        yield libpq


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def test_the_claim_probes_each_candidates_key_instead_of_joining_the_backlog(
    stale_outbox: str, engine: Engine
) -> None:
    query = outbox_store._claim_query(BATCH)
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with psycopg.connect(stale_outbox) as conn:
        (raw,) = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql).fetchone()  # type: ignore[misc]
        conn.rollback()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes = list(_nodes(plan))
    assert not [n for n in nodes if n.get("Join Type") == "Anti"], plan
    examined = sum(
        n.get("Rows Removed by Filter", 0) * n.get("Actual Loops", 1)
        + n.get("Rows Removed by Join Filter", 0)
        for n in nodes
    )
    # Each candidate's probe stops at its key's first row, which lies among the rows the batch
    # went through (two per key here): bounded by the batch, not by the backlog (20 times as
    # many rows; the anti-join examined BATCH * BACKLOG).
    assert examined <= (2 * BATCH) ** 2, examined
    assert plan["Actual Rows"] == BATCH
