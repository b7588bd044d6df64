"""The `flask` commands: thin wrappers over the use cases and daemons."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from payments.db.engine import apply_schema
from web import container_of

db_cli = AppGroup("db", help="Database schema.")


@db_cli.command("init")
def db_init() -> None:
    """Apply schema.sql (safe to run twice)."""
    try:
        apply_schema(container_of(current_app).engine)
    except Exception as err:  # one clear line, never a traceback
        raise click.ClickException(f"could not apply schema.sql: {_first_line(err)}") from None
    click.echo("schema applied")


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def init_app(app: Flask) -> None:
    """Register every command group."""
    from outbox.cli import bridge_cli, outbox_cli
    from web.cli_dlq import dlq_cli
    from web.cli_payments import payments_cli

    app.cli.add_command(db_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(bridge_cli)
    app.cli.add_command(dlq_cli)
    app.cli.add_command(payments_cli)
