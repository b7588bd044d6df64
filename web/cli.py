"""`flask db init`: apply schema.sql (reached through the `flask.commands` entry points)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from payments import bootstrap
from payments.db.engine import apply_schema
from payments.errors import first_line

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("init")
def db_init() -> None:
    """Apply schema.sql (safe to run twice)."""
    try:
        apply_schema(bootstrap.current().engine)
    except Exception as err:  # one clear line, never a traceback
        raise click.ClickException(f"could not apply schema.sql: {first_line(err)}") from None
    click.echo("schema applied")
