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


openapi_cli = AppGroup("openapi", help="The OpenAPI document.")
DOCUMENT_PATH = "docs/openapi.json"


@openapi_cli.command("write")
@click.option(
    "--output",
    default=DOCUMENT_PATH,
    show_default=True,
    type=click.Path(dir_okay=False, writable=True),
    help="Where to write it ('-' for standard output).",
)
def openapi_write(output: str) -> None:
    """Write the OpenAPI document that GET /openapi.json serves (committed as docs/openapi.json,
    so that every change to the API shows in review)."""
    from flask import current_app

    from web.openapi import document

    text = serialise(document(current_app._get_current_object()))  # type: ignore[attr-defined]
    if output == "-":
        click.echo(text, nl=False)
        return
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
    click.echo(f"wrote {output}")


def serialise(spec: dict[str, object]) -> str:
    """The document as committed: sorted keys, two-space indents, a final newline."""
    import json

    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
