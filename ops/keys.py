"""`flask keys create | list | revoke`: API keys with scopes (contract section 11).

`create` prints the new key once, alone on the last line of standard output; only its hash
is stored. Exit codes: 0 on success, 1 with one line on stderr (a name taken, an unknown key,
the database down), 2 for bad usage.
"""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from payments import api_keys, bootstrap
from payments.api_keys import Scope
from payments.cli_support import one_line_errors
from payments.db.api_key_store import SqlApiKeys

keys_cli = AppGroup("keys", help="API keys and their scopes.")


@keys_cli.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice([s.value for s in Scope]),
    help="What the key may do; repeat for several.",
)
@one_line_errors
def create(name: str, scopes: tuple[str, ...]) -> None:
    """Create a key named NAME with the given scopes; print it once (store it now)."""
    if not 1 <= len(name) <= 100 or name != name.strip():
        raise click.UsageError("NAME must be 1 to 100 characters, without surrounding spaces")
    container = bootstrap.current()
    with container.engine.begin() as conn:
        try:
            key = api_keys.create(conn, container.settings.api_key_secret, name, scopes)
        except api_keys.KeyRefused as err:
            raise click.ClickException(str(err)) from None
    click.echo(f"created key {name} with {', '.join(sorted(scopes))}; it is shown only once:")
    click.echo(key)


@keys_cli.command("list")
@one_line_errors
def list_keys() -> None:
    """Every key without its secret: name, prefix, scopes, created, last used, revoked."""
    with bootstrap.current().engine.connect() as conn:
        found = SqlApiKeys(conn).every_key()
    for row in found:
        state = f"revoked={_when(row.revoked_at)}" if row.revoked_at else "active"
        click.echo(
            f"{row.name} {row.prefix}... {','.join(row.scopes)} created={_when(row.created_at)} "
            f"last_used={_when(row.last_used_at)} {state}"
        )
    click.echo(f"{len(found)} key(s)", err=True)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else "-"


@keys_cli.command("revoke")
@click.argument("name")
@one_line_errors
def revoke(name: str) -> None:
    """Revoke the key named NAME: every API process refuses it within seconds."""
    with bootstrap.current().engine.begin() as conn:
        try:
            api_keys.revoke(conn, name)
        except api_keys.KeyRefused as err:
            raise click.ClickException(str(err)) from None
    click.echo(f"revoked key {name}")
