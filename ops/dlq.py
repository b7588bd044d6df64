"""`flask dlq list` and `flask dlq retry`: Dramatiq's dead-lettered messages."""

from __future__ import annotations

import logging

import click
from flask.cli import AppGroup

from payments import bootstrap
from payments.cli_support import UsageProblem, one_line_errors
from payments.queue.dead_letters import DeadLetter, DeadLetters, UnknownDeadLetter

log = logging.getLogger("payments.dlq")

dlq_cli = AppGroup("dlq", help="Dramatiq's dead-lettered messages.")


def _dead_letters() -> DeadLetters:
    return bootstrap.current().dead_letters()


@dlq_cli.command("list")
@one_line_errors
def dlq_list() -> None:
    """List dead letters: id, actor, arguments, when it failed and why."""
    letters = _dead_letters().list()
    if not letters:
        click.echo("no dead-lettered messages")
        return
    rows = [
        (d.message_id, d.actor, d.arguments(), d.failed_at.isoformat(timespec="seconds"), d.error())
        for d in letters
    ]
    header = ("ID", "ACTOR", "ARGS", "FAILED AT", "ERROR")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))
    click.echo(f"{len(letters)} dead-lettered messages")


@dlq_cli.command("retry")
@click.argument("ids", nargs=-1, metavar="[ID]...")
@click.option("--all", "retry_all", is_flag=True, help="Retry every dead letter.")
@one_line_errors
def dlq_retry(ids: tuple[str, ...], retry_all: bool) -> None:
    """Re-enqueue dead letters and remove them.

    Each message (by ID, or every one with --all) goes back to its own queue with a fresh
    retry budget.
    """
    if bool(ids) == retry_all:
        raise UsageProblem("give message IDs or --all (not both)")
    store = _dead_letters()
    try:
        letters = store.list() if retry_all else store.find(ids)
    except UnknownDeadLetter as err:
        raise click.ClickException(f"not dead-lettered: {err}") from None
    if not letters:
        click.echo("no dead-lettered messages")
        return
    with click.progressbar(letters, label="retrying") as bar:
        for letter in bar:
            _retry(store, letter)
    click.echo(f"retried {len(letters)} messages")


def _retry(store: DeadLetters, letter: DeadLetter) -> None:
    message = store.retry(letter)
    log.info(
        "re-enqueued dead letter %s on %s",
        letter.actor,
        letter.queue,
        extra={"message_id": message.message_id, "ce_id": message.options.get("ce_id")},
    )
