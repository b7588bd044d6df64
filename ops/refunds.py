"""`flask refunds list` and `flask refunds retry`: see the refunds and re-drive failed ones.

Exit codes: 0 on success, 1 with one line on stderr when the database or Redis failed or an
id is unknown, 2 for bad usage.
"""

from __future__ import annotations

import sys
import uuid

import click
from flask.cli import AppGroup

from payments import bootstrap, money, refunds
from payments.cli_support import one_line_errors
from payments.domain.refund import ExceedsRefundable, RefundStatus
from payments.errors import NotFound

refunds_cli = AppGroup("refunds", help="Operator tools for refunds.")

STATUSES = [s.value for s in RefundStatus]


def _refund_ids(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list:
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a refund id (a UUID)") from None
    return ids


@refunds_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES, case_sensitive=False), help="Only these.")
@click.option("--event", "event_id", metavar="EVENT_ID", help="Only the refunds of this event.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@one_line_errors
def list_refunds(status: str | None, event_id: str | None, limit: int) -> None:
    """List refunds, oldest first: id, status, amount, reason, failure, payment, event."""
    wanted = RefundStatus(status.upper()) if status else None
    with bootstrap.current().uow() as uow:
        found = uow.refunds.listing(wanted, event_id, limit)
    for refund, event in found:
        amount = money.exact(refund.amount, refund.currency)
        click.echo(
            f"{refund.id} {refund.status} {amount} {refund.currency} {refund.reason} "
            f"{refund.failure_reason or '-'} payment={refund.payment_id} event={event} "
            f"updated={refund.updated_at.isoformat(timespec='seconds')}"
        )
    click.echo(f"{len(found)} refund(s)", err=True)


@refunds_cli.command("retry")
@click.argument("refund_ids", nargs=-1, callback=_refund_ids)
@click.option("--failed", is_flag=True, help="Every FAILED refund (of --event, if given).")
@click.option("--event", "event_id", metavar="EVENT_ID", help="With --failed: of this event.")
@one_line_errors
def retry(refund_ids: list[uuid.UUID], failed: bool, event_id: str | None) -> None:
    """A new attempt at FAILED refunds, under the same refund ids (the gateway's idempotency
    keys): PENDING again, sent to the gateway by the workers, one e-mail when they succeed."""
    if bool(refund_ids) == failed:
        raise click.UsageError("give refund ids or --failed, not both")
    if event_id is not None and not failed:
        raise click.UsageError("--event goes with --failed")
    container = bootstrap.current()
    if failed:
        with container.uow() as uow:
            listed = uow.refunds.listing(RefundStatus.FAILED, event_id, 100_000)
        refund_ids = [refund.id for refund, _event in listed]
    retried, skipped, unknown = 0, [], []
    with click.progressbar(refund_ids, label="retrying refunds", file=sys.stderr) as bar:
        for refund_id in bar:
            try:
                again = refunds.retry_failed(container.uow(), refund_id)
            except NotFound:
                unknown.append(refund_id)
                continue
            except ExceedsRefundable as err:
                skipped.append(f"{refund_id} (only {err.refundable} left to refund)")
                continue
            if again is None:
                skipped.append(f"{refund_id} (not FAILED)")
            else:
                retried += 1
    click.echo(f"retried {retried} refund(s)")
    for line in skipped:
        click.echo(f"left alone: {line}")
    if unknown:
        raise click.ClickException(
            f"{len(unknown)} unknown refund id(s): {' '.join(map(str, unknown))}"
        )
