"""`flask events cancel EVENT_ID [--reason TEXT]`: cancel an event and follow its refunds.

The same as `POST /events/<event_id>/cancellation` (contract section 8): the cancellation is
accepted at once (once per event), the workers refund its paid payments in batches, and this
command shows their progress until every refund of the event has finished.
"""

from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup

from payments import bootstrap, refunds
from payments.cli_support import one_line_errors
from payments.db.refunds import CancellationStats

events_cli = AppGroup("events", help="Event cancellation.")

POLL_S = 1.0


def _stats(event_id: str) -> tuple[CancellationStats, bool]:
    with bootstrap.current().uow() as uow:
        cancellation = uow.refunds.get_cancellation(event_id)
        stats = uow.refunds.stats(event_id)
    assert cancellation is not None
    return stats, cancellation.scanned_at is not None and stats.completed


@events_cli.command("cancel")
@click.argument("event_id")
@click.option("--reason", metavar="TEXT", help="Why the event is cancelled (up to 500 chars).")
@click.option("--no-wait", is_flag=True, help="Return once the cancellation is accepted.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to follow it.")
@one_line_errors
def cancel(event_id: str, reason: str | None, no_wait: bool, timeout: float) -> None:
    """Cancel EVENT_ID: refund every paid payment of it, once, in the workers.

    Running it again for the same event changes nothing and follows the same refunds.
    """
    if not 1 <= len(event_id) <= 64:
        raise click.BadParameter("an event id has 1 to 64 characters", param_hint="EVENT_ID")
    if reason is not None and len(reason) > 500:
        raise click.BadParameter("at most 500 characters", param_hint="--reason")
    container = bootstrap.current()
    _cancellation, created = refunds.cancel_event(container.uow(), event_id, reason)
    click.echo(f"event {event_id} {'cancelled' if created else 'was already cancelled'}")
    if no_wait:
        return
    deadline = time.monotonic() + timeout
    stats, done = _stats(event_id)
    with click.progressbar(
        length=max(stats.payments, 1), label="refunding", file=sys.stderr
    ) as bar:
        shown = 0
        while not done and time.monotonic() < deadline:
            time.sleep(POLL_S)
            stats, done = _stats(event_id)
            bar.length = max(stats.payments, 1)
            finished = stats.succeeded + stats.failed
            bar.update(finished - shown)
            shown = finished
    amounts = ", ".join(f"{code} {total}" for code, total in sorted(stats.amount_refunded.items()))
    click.echo(
        f"{stats.payments} payment(s): {stats.succeeded} refunded, {stats.failed} failed, "
        f"{stats.pending} pending" + (f"; refunded {amounts}" if amounts else "")
    )
    if not done:
        raise click.ClickException(
            f"not finished after {timeout:g}s; run it again to keep following"
        )
