"""Schema migrations: `schema.sql` as ordered, idempotent steps, each recorded once applied.

A database records the steps it has in `schema_migrations` (its version is the highest);
`migrate` applies the missing ones in order and says what it did. So an upgrade runs only
what is new, and a deploy that finds nothing new takes no lock at all.

How a step keeps the API moving while it runs:
- A plain step is one transaction that waits at most `lock_timeout_ms` for each lock. An
  `ALTER TABLE` waiting for a table lock makes every request that needs the table queue
  behind it, so the step gives way (rolls back, nothing of it applied) and tries again a
  little later, instead of holding the queue for as long as the slowest transaction ahead.
- A `concurrently` step runs each statement on its own outside any transaction (CREATE INDEX
  CONCURRENTLY cannot run inside one): index builds and constraint validations that take no
  lock writers wait on. An index an interrupted build left INVALID is dropped and built again.

Every step is idempotent (IF NOT EXISTS, a DO block that checks first), so a database of a
release from before the steps existed, which records none, runs them all and loses nothing.
Two `flask db init` at once apply in turn (an advisory lock).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, exc, select, text
from sqlalchemy.dialects.postgresql import insert

from payments import data_files
from payments.db.tables import schema_migrations
from payments.errors import PaymentsError, first_line

SCHEMA_FILE = data_files.SCHEMA_FILE
MIGRATIONS_LOCK = 727_001  # advisory lock id
DEFAULT_LOCK_TIMEOUT_MS = 500
# A step that cannot take its locks is tried this many times, waiting a little longer each
# time (0.1 s doubling up to 2 s: about a minute in all) before the upgrade stops.
LOCK_ATTEMPTS = 30
_GAVE_WAY = {"55P03", "40P01"}  # lock_not_available (the lock timeout), deadlock_detected

_STEP = re.compile(r"^-- @step (\d+)( concurrently)?: (\S.*)$", re.M)
_INDEX_NAME = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.I
)
VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(PaymentsError):
    """The schema file is malformed, or a step could not be applied (nothing of it was)."""


@dataclass(frozen=True)
class Step:
    """One migration step of `schema.sql`: the SQL under its `-- @step N: name` line."""

    version: int
    name: str
    sql: str
    concurrently: bool = False

    def statements(self) -> list[str]:
        """A concurrent step's statements, each run on its own."""
        return [s.strip() for s in _without_comments(self.sql).split(";") if s.strip()]

    def __str__(self) -> str:
        return f"{self.version} ({self.name})"


@dataclass(frozen=True)
class Applied:
    step: Step
    seconds: float
    lock_retries: int  # how often the step gave way to a lock it could not take in time


@dataclass(frozen=True)
class Report:
    before: int  # the version recorded before (0: none recorded)
    applied: tuple[Applied, ...]
    after: int


def read_steps(schema_file: Path = SCHEMA_FILE) -> tuple[Step, ...]:
    """The steps of `schema_file`, numbered 1, 2, 3... in order."""
    sql = schema_file.read_text(encoding="utf-8")
    marks = list(_STEP.finditer(sql))
    if not marks:
        raise MigrationError(f"{schema_file.name} has no '-- @step N: name' line")
    if _without_comments(sql[: marks[0].start()]).strip():
        raise MigrationError(f"{schema_file.name} has SQL before its first step")
    steps = tuple(
        Step(
            version=int(mark[1]),
            name=mark[3].strip(),
            sql=sql[mark.end() : marks[i + 1].start() if i + 1 < len(marks) else len(sql)].strip(),
            concurrently=bool(mark[2]),
        )
        for i, mark in enumerate(marks)
    )
    numbers = [step.version for step in steps]
    if numbers != list(range(1, len(steps) + 1)):
        raise MigrationError(f"{schema_file.name}: steps numbered {numbers}, not 1, 2, 3...")
    for step in steps:
        if step.concurrently and "$$" in step.sql:
            raise MigrationError(f"step {step}: a concurrent step cannot hold a DO block")
        if not step.sql:
            raise MigrationError(f"step {step} is empty")
    return steps


def recorded(conn: Connection) -> set[int]:
    """The versions the database records (none before its first migration)."""
    if conn.execute(text("SELECT to_regclass('schema_migrations')")).scalar() is None:
        return set()
    return set(conn.execute(select(schema_migrations.c.version)).scalars())


def pending(engine: Engine, schema_file: Path = SCHEMA_FILE) -> tuple[int, list[Step]]:
    """The database's version and the steps it lacks."""
    with engine.connect() as conn:
        done = recorded(conn)
    return max(done, default=0), [s for s in read_steps(schema_file) if s.version not in done]


def migrate(
    engine: Engine,
    schema_file: Path = SCHEMA_FILE,
    *,
    lock_timeout_ms: int = DEFAULT_LOCK_TIMEOUT_MS,
    on_applied: Callable[[Applied], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Apply the steps of `schema_file` the database lacks, in order, recording each."""
    steps = read_steps(schema_file)
    with engine.connect() as raw:
        session = raw.execution_options(isolation_level="AUTOCOMMIT")
        session.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATIONS_LOCK})
        try:
            session.exec_driver_sql(VERSION_TABLE)
            done = recorded(session)
            before, applied = max(done, default=0), []
            for step in steps:
                if step.version in done:
                    continue
                started = time.monotonic()
                if step.concurrently:
                    _apply_concurrently(session, step)
                    retries = 0
                else:
                    retries = _apply_in_transaction(engine, step, lock_timeout_ms, sleep)
                outcome = Applied(step, time.monotonic() - started, retries)
                applied.append(outcome)
                done.add(step.version)
                if on_applied is not None:
                    on_applied(outcome)
            return Report(before, tuple(applied), max(done, default=0))
        finally:
            session.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATIONS_LOCK})


def _record(conn: Connection, step: Step) -> None:
    conn.execute(
        insert(schema_migrations)
        .values(version=step.version, name=step.name)
        .on_conflict_do_nothing()
    )


def _apply_in_transaction(
    engine: Engine, step: Step, lock_timeout_ms: int, sleep: Callable[[float], None]
) -> int:
    """Run `step` in one transaction, giving way to locks held longer than the timeout."""
    for attempt in range(LOCK_ATTEMPTS):
        try:
            with engine.begin() as conn:
                conn.execute(
                    text("SELECT set_config('lock_timeout', :t, true)"),
                    {"t": f"{lock_timeout_ms}ms"},
                )
                conn.exec_driver_sql(step.sql)
                _record(conn, step)
            return attempt
        except exc.OperationalError as err:
            if getattr(err.orig, "sqlstate", None) not in _GAVE_WAY:
                raise MigrationError(f"step {step}: {first_line(err)}") from err
            if attempt + 1 == LOCK_ATTEMPTS:
                raise MigrationError(
                    f"step {step} could not take its locks within {lock_timeout_ms} ms in "
                    f"{LOCK_ATTEMPTS} tries (nothing of it applied; run it again when the "
                    f"database is quieter): {first_line(err)}"
                ) from err
            sleep(min(0.1 * 2**attempt, 2.0))
        except exc.DBAPIError as err:
            raise MigrationError(f"step {step}: {first_line(err)}") from err
    raise AssertionError("unreachable")


def _apply_concurrently(session: Connection, step: Step) -> None:
    """Run each statement of `step` on its own, outside any transaction, then record it."""
    try:
        for statement in step.statements():
            _drop_if_invalid(session, statement)
            session.exec_driver_sql(statement)
        _record(session, step)
    except exc.DBAPIError as err:
        raise MigrationError(f"step {step}: {first_line(err)}") from err


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
