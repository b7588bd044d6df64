"""`flask db init` and `flask db status`: the schema's migration steps (reached through the
`flask.commands` entry points)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import AppGroup
from sqlalchemy import Engine

from payments import bootstrap
from payments.db.engine import make_engine
from payments.db.migrations import Applied, MigrationError, migrate, pending
from payments.errors import first_line

db_cli = AppGroup("db", help="Database schema.")


@contextmanager
def _migration_engine() -> Iterator[Engine]:
    """An engine of its own, named in pg_stat_activity, so an operator can tell the
    migration's sessions from the service's."""
    engine = make_engine(
        bootstrap.current().settings.database_url, pool_size=1, application_name="payments-migrate"
    )
    try:
        yield engine
    finally:
        engine.dispose()


@db_cli.command("init")
def db_init() -> None:
    """Apply the schema's migration steps the database lacks, in order, and say which (safe
    to run twice, and while the service runs)."""

    def said(applied: Applied) -> None:
        retried = (
            f", gave way to locks {applied.lock_retries} times" if applied.lock_retries else ""
        )
        click.echo(f"applied step {applied.step} in {applied.seconds:.2f} s{retried}")

    settings = bootstrap.current().settings
    try:
        with _migration_engine() as engine:
            report = migrate(
                engine, lock_timeout_ms=settings.migration_lock_timeout_ms, on_applied=said
            )
    except MigrationError as err:
        raise click.ClickException(f"could not migrate the schema: {err}") from None
    except Exception as err:  # one clear line, never a traceback
        raise click.ClickException(f"could not migrate the schema: {first_line(err)}") from None
    if not report.applied:
        click.echo(f"schema at version {report.after}: nothing to apply")
    else:
        click.echo(
            f"schema at version {report.after} (was {report.before or 'unversioned'}): "
            f"{len(report.applied)} step(s) applied"
        )


@db_cli.command("status")
def db_status() -> None:
    """Say the database's schema version and the steps it lacks (exit status 1 if any)."""
    try:
        with _migration_engine() as engine:
            version, missing = pending(engine)
    except MigrationError as err:
        raise click.ClickException(str(err)) from None
    except Exception as err:
        raise click.ClickException(
            f"could not read the schema version: {first_line(err)}"
        ) from None
    click.echo(f"schema at version {version or 'unversioned'}")
    for step in missing:
        click.echo(f"pending step {step}{' (concurrently)' if step.concurrently else ''}")
    if missing:
        raise SystemExit(1)


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
