"""payments/db/tables.py mirrors schema.sql (issue 27): the same tables and columns, each of a
matching type and nullability, checked against a database schema.sql built. A column added
to one and not the other, or a NOT NULL the queries do not know about, fails here."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    Numeric,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from payments.db.tables import metadata
from tests.support import env
from tests.support.wiring import schema_engine

# information_schema's data_type -> the SQLAlchemy types that may stand for it
TYPES: dict[str, tuple[type, ...]] = {
    "uuid": (Uuid,),
    "text": (Text,),
    "character": (Text,),
    "numeric": (Numeric,),
    "timestamp with time zone": (DateTime,),
    "integer": (Integer,),
    "smallint": (Integer,),
    "bigint": (BigInteger,),
    "boolean": (Boolean,),
    "bytea": (LargeBinary,),
    "ARRAY": (ARRAY,),
    "jsonb": (JSONB,),
}


@pytest.fixture(scope="module")
def columns() -> Iterator[dict[str, dict[str, tuple[Any, ...]]]]:
    """Table -> column -> (data type, nullable, numeric precision, scale), as built."""
    with (
        env.own_database("mirror") as url,
        schema_engine(url, pool_size=1),
        psycopg.connect(env.libpq(url)) as conn,
    ):
        rows = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable = 'YES', "
            "numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
    built: dict[str, dict[str, tuple[Any, ...]]] = {}
    for table, column, *facts in rows:
        built.setdefault(table, {})[column] = tuple(facts)
    yield built


def test_the_same_tables_and_columns(columns: dict[str, dict[str, tuple[Any, ...]]]) -> None:
    assert set(metadata.tables) == set(columns)
    for name, table in metadata.tables.items():
        assert {c.name for c in table.columns} == set(columns[name]), name


def test_each_column_has_a_matching_type_and_nullability(
    columns: dict[str, dict[str, tuple[Any, ...]]],
) -> None:
    wrong = []
    for name, table in metadata.tables.items():
        for column in table.columns:
            data_type, nullable, precision, scale = columns[name][column.name]
            where = f"{name}.{column.name}"
            if not isinstance(column.type, TYPES[data_type]):
                wrong.append(f"{where}: {data_type} in schema.sql, {column.type!r} in tables.py")
            if isinstance(column.type, DateTime) and not column.type.timezone:
                wrong.append(f"{where}: timestamptz needs DateTime(timezone=True)")
            if data_type == "numeric" and (column.type.precision, column.type.scale) != (  # type: ignore[attr-defined]
                precision,
                scale,
            ):
                wrong.append(f"{where}: numeric({precision}, {scale}) in schema.sql")
            if column.nullable != nullable:
                wrong.append(f"{where}: nullable {nullable} in schema.sql, {column.nullable}")
    assert wrong == []
