"""schema.sql as migration steps (payments/db/migrations.py): how the file is read, and the
rules that keep an upgrade from locking a table that holds history."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from payments.db.migrations import SCHEMA_FILE, MigrationError, Step, read_steps

STEPS = read_steps()


def test_the_schema_is_steps_numbered_from_one() -> None:
    assert [s.version for s in STEPS] == list(range(1, len(STEPS) + 1))
    assert all(s.name and s.sql for s in STEPS)
    assert STEPS[0] == Step(1, "payments", STEPS[0].sql)
    assert "CREATE TABLE IF NOT EXISTS payments" in STEPS[0].sql


_INDEX = re.compile(
    r"CREATE\s+(UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?IF NOT EXISTS\s+\w+\s+ON\s+(\w+)"
)
_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")


def test_a_plain_step_indexes_only_the_tables_it_creates() -> None:
    """An index on a table an earlier release made (which may hold a million rows) is built
    CONCURRENTLY in a concurrent step; CREATE INDEX in a transaction blocks every write to
    the table for as long as the build."""
    for step in STEPS:
        created = set(_TABLE.findall(step.sql))
        for _unique, concurrently, table in _INDEX.findall(step.sql):
            if step.concurrently:
                assert concurrently, f"step {step}: an index without CONCURRENTLY"
            else:
                assert table in created, f"step {step} indexes {table} inside its transaction"


def test_a_constraint_added_to_an_existing_table_is_not_valid_then_validated() -> None:
    """ADD CONSTRAINT ... CHECK validates every row under an exclusive lock; NOT VALID checks
    new rows at once and VALIDATE (a concurrent step) the old ones without blocking writes."""
    added = re.findall(r"ADD CONSTRAINT (\w+)\s+CHECK[^;]*?(NOT VALID)?;", _sql(), re.S)
    assert added, "schema.sql adds no constraint: the rule checks nothing"
    validated = {
        name
        for step in STEPS
        if step.concurrently
        for name in re.findall(r"VALIDATE CONSTRAINT (\w+)", step.sql)
    }
    for name, not_valid in added:
        assert not_valid, f"{name} is added without NOT VALID"
        assert name in validated, f"{name} is never validated"


def test_a_concurrent_step_runs_only_statements_that_do_not_block_writers() -> None:
    allowed = re.compile(
        r"^(CREATE (UNIQUE )?INDEX CONCURRENTLY|DROP INDEX CONCURRENTLY|"
        r"ALTER TABLE \w+ VALIDATE CONSTRAINT)"
    )
    concurrent = [s for s in STEPS if s.concurrently]
    assert concurrent
    for step in concurrent:
        for statement in step.statements():
            assert allowed.match(statement), f"step {step}: {statement.splitlines()[0]}"


def _sql() -> str:
    return SCHEMA_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("CREATE TABLE t (id int);\n", "no '-- @step N: name' line"),
        ("CREATE TABLE t (id int);\n-- @step 1: t\nSELECT 1;\n", "SQL before its first step"),
        ("-- @step 1: a\nSELECT 1;\n-- @step 3: b\nSELECT 1;\n", "numbered [1, 3]"),
        ("-- @step 1: a\n-- @step 2: b\nSELECT 1;\n", "step 1 (a) is empty"),
        (
            "-- @step 1 concurrently: a\nDO $$ BEGIN END $$;\n",
            "a concurrent step cannot hold a DO block",
        ),
    ],
)
def test_a_malformed_schema_file_is_refused_with_one_line(
    tmp_path: Path, text: str, says: str
) -> None:
    path = tmp_path / "schema.sql"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MigrationError, match=re.escape(says)):
        read_steps(path)


def test_a_concurrent_steps_statements_are_split_without_comments() -> None:
    step = Step(
        7,
        "x",
        "-- a comment; with a semicolon\nCREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x);\n"
        "DROP INDEX CONCURRENTLY IF EXISTS b;\n",
        concurrently=True,
    )
    assert step.statements() == [
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS a ON t (x)",
        "DROP INDEX CONCURRENTLY IF EXISTS b",
    ]
    assert str(step) == "7 (x)"
