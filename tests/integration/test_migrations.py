"""`flask db init` applies what a database lacks and records it (payments/db/migrations.py),
on real PostgreSQL: a version, only new steps, giving way to a lock instead of queueing the
API behind it, and one clear line when it cannot."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text

from payments.db.engine import make_engine
from payments.db.migrations import (
    LOCK_ATTEMPTS,
    SCHEMA_FILE,
    MigrationError,
    migrate,
    pending,
    read_steps,
)
from tests.support import env
from tests.support.releases import RELEASE_8D1837A, load_release

STEPS = read_steps()
FLASK = Path(sys.executable).with_name("flask")
ADD_A_COLUMN = "ALTER TABLE payments ADD COLUMN IF NOT EXISTS extra text;"  # a lock on payments


@pytest.fixture
def database() -> Iterator[tuple[str, Engine]]:
    with env.own_database("migrations") as url:
        engine = make_engine(url, pool_size=2)
        try:
            yield url, engine
        finally:
            engine.dispose()


def _versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(text("SELECT version FROM schema_migrations ORDER BY 1")).scalars()
        )


def _with_extra_step(tmp_path: Path, sql: str) -> Path:
    path = tmp_path / "schema.sql"
    extra = len(STEPS) + 1
    path.write_text(
        SCHEMA_FILE.read_text(encoding="utf-8") + f"\n-- @step {extra}: extra\n{sql}\n",
        encoding="utf-8",
    )
    return path


def test_a_new_database_gets_every_step_once_and_records_each(
    database: tuple[str, Engine],
) -> None:
    _, engine = database
    first = migrate(engine)
    again = migrate(engine)
    assert (first.before, first.after) == (0, len(STEPS))
    assert [a.step.version for a in first.applied] == [s.version for s in STEPS]
    assert _versions(engine) == [s.version for s in STEPS]
    assert (again.before, again.applied, again.after) == (len(STEPS), (), len(STEPS))
    assert pending(engine) == (len(STEPS), [])


def test_a_database_of_an_earlier_release_runs_every_step_and_keeps_its_rows(
    database: tuple[str, Engine],
) -> None:
    _, engine = database
    load_release(engine, RELEASE_8D1837A)  # records no version
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payments (id, status, user_name, user_email, user_language, "
                "event_id, amount, currency) VALUES (gen_random_uuid(), 'SUCCESS', 'Ana', "
                "'a@x.io', 'en', 'evt-old', 10, 'USD')"
            )
        )
    assert pending(engine)[0] == 0
    report = migrate(engine)
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM payments")).scalar_one()
        columns = set(
            conn.execute(
                text(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'transactions'"
                )
            ).scalars()
        )
    assert (report.before, report.after, len(report.applied)) == (0, len(STEPS), len(STEPS))
    assert kept == 1
    assert {"gateway_reference", "decline_code", "action_secret"} <= columns


def test_only_the_steps_a_database_lacks_are_applied(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    _, engine = database
    migrate(engine)
    newer = _with_extra_step(tmp_path, ADD_A_COLUMN)
    assert [s.name for s in pending(engine, newer)[1]] == ["extra"]
    report = migrate(engine, newer)
    assert [a.step.name for a in report.applied] == ["extra"]
    assert report.after == len(STEPS) + 1


def test_a_step_gives_way_to_a_lock_it_cannot_take_then_applies(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    """A transaction holding payments (a slow report, say): the step's ALTER waits at most
    the lock timeout, rolls back and tries again, so requests queue behind it for no longer
    than that; once the transaction ends the step applies."""
    url, engine = database
    migrate(engine)
    newer = _with_extra_step(tmp_path, ADD_A_COLUMN)
    holder = psycopg.connect(env.libpq(url))
    holder.execute("SELECT count(*) FROM payments")  # holds ACCESS SHARE until it ends
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            holder.commit()

    try:
        report = migrate(engine, newer, lock_timeout_ms=50, sleep=sleep)
    finally:
        holder.close()
    assert report.applied[0].lock_retries == 3
    assert waits == [0.1, 0.2, 0.4]


def test_a_lock_never_released_stops_the_upgrade_with_one_line_and_nothing_applied(
    database: tuple[str, Engine], tmp_path: Path
) -> None:
    url, engine = database
    migrate(engine)
    newer = _with_extra_step(tmp_path, ADD_A_COLUMN)
    with psycopg.connect(env.libpq(url)) as holder:
        holder.execute("SELECT count(*) FROM payments")
        with pytest.raises(MigrationError) as raised:
            migrate(engine, newer, lock_timeout_ms=20, sleep=lambda _s: None)
        holder.rollback()
    message = str(raised.value)
    assert message.startswith(f"step {len(STEPS) + 1} (extra) could not take its locks")
    assert f"in {LOCK_ATTEMPTS} tries" in message and "\n" not in message
    assert _versions(engine)[-1] == len(STEPS)
    with engine.connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_name = 'payments' AND column_name = 'extra'"
                )
            ).scalar_one()
            == 0
        )


def test_a_failing_step_is_one_line_naming_it(database: tuple[str, Engine], tmp_path: Path) -> None:
    _, engine = database
    newer = _with_extra_step(tmp_path, "ALTER TABLE nowhere ADD COLUMN x text;")
    with pytest.raises(MigrationError, match=r"^step \d+ \(extra\): .*nowhere"):
        migrate(engine, newer)
    assert _versions(engine) == [s.version for s in STEPS]  # the steps before it stay


def test_flask_db_init_and_status_say_what_they_did(database: tuple[str, Engine]) -> None:
    url, _ = database

    def flask(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(FLASK), "db", *args],
            env=env.base_env(DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=60,
        )

    before = flask("status")
    first = flask("init")
    second = flask("init")
    after = flask("status")
    assert before.returncode == 1
    assert before.stdout.splitlines()[:2] == [
        "schema at version unversioned",
        "pending step 1 (payments)",
    ]
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("applied step 1 (payments) in ")
    assert (
        lines[-1]
        == f"schema at version {len(STEPS)} (was unversioned): {len(STEPS)} step(s) applied"
    )
    assert second.stdout == f"schema at version {len(STEPS)}: nothing to apply\n"
    assert (after.returncode, after.stdout) == (0, f"schema at version {len(STEPS)}\n")


def test_flask_db_init_without_a_database_is_one_clear_line() -> None:
    result = subprocess.run(
        [str(FLASK), "db", "init"],
        env=env.base_env(DATABASE_URL="postgresql+psycopg://root@127.0.0.1:1/none"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: could not migrate the schema: ")
    assert len(result.stderr.strip().splitlines()) == 1
