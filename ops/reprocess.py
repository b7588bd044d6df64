"""`flask payments reprocess (ID... | --stuck-for DURATION)`: re-drive payments that stopped.

Exit codes: 0 when every payment asked for was re-driven (or had nothing left to do), 1 with
one line on stderr when the database or Redis failed or an id is unknown, 2 for bad usage.
"""

from __future__ import annotations

import sys
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import click
from flask.cli import AppGroup

from payments import bootstrap, recovery
from payments.cli_support import Duration
from payments.errors import first_line
from payments.queue import names
from payments.recovery import Plan, Redrive, Step

payments_cli = AppGroup("payments", help="Operator tools for payments.")


def _payment_id(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list:
    try:
        return [uuid.UUID(v) for v in values]
    except ValueError:
        bad = next(v for v in values if not _is_uuid(v))
        raise click.BadParameter(f"{bad!r} is not a payment id (a UUID)") from None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def senders() -> dict[Step, Callable[[str], Any]]:
    """Step -> a function enqueueing its actor's message (by name, on the container's broker)."""
    broker = bootstrap.current().broker

    def send(actor: names.ActorRef) -> Callable[[str], Any]:
        return lambda target: names.send(broker, actor, target, redrive=True)

    return {step: send(actor) for step, actor in recovery.ACTOR_OF_STEP.items()}


def _plan(payment_ids: list[uuid.UUID], stuck_for: float | None, limit: int) -> Plan:
    uow = bootstrap.current().uow
    try:
        if stuck_for is not None:
            return recovery.plan_for_stuck(uow(), stuck_for, limit)
        return recovery.plan_for_ids(uow(), payment_ids)
    except Exception as err:  # one clear line, never a traceback
        raise click.ClickException(f"could not read payments: {first_line(err)}") from None


def _enqueue(redrives: list[Redrive]) -> Counter[Step]:
    done: Counter[Step] = Counter()
    send = senders()
    with click.progressbar(redrives, label="Re-driving", file=sys.stderr) as bar:
        for redrive in bar:
            try:
                send[redrive.step](str(redrive.target))
            except Exception as err:
                raise click.ClickException(
                    f"could not enqueue {redrive.step} for payment {redrive.payment_id} "
                    f"({sum(done.values())} of {len(redrives)} done): {first_line(err)}"
                ) from None
            done[redrive.step] += 1
    return done


@payments_cli.command("reprocess")
@click.argument("payment_ids", nargs=-1, metavar="[ID]...", callback=_payment_id)
@click.option(
    "--stuck-for",
    type=Duration(),
    metavar="DURATION",
    help="Every unfinished payment unchanged for this long (30s, 5m, 1h...).",
)
@click.option("--limit", default=10_000, show_default=True, help="At most this many payments.")
@click.option("--dry-run", is_flag=True, help="Only say what would be re-driven.")
def reprocess(
    payment_ids: list[uuid.UUID], stuck_for: float | None, limit: int, dry_run: bool
) -> None:
    """Re-drive unfinished payments from their current step.

    A payment without a transaction gets one; a PENDING transaction is charged; a finished
    transaction settles its payment; a finished payment without its recorded e-mail is
    e-mailed. Every step is idempotent, so re-driving a payment still in flight is harmless.
    """
    if bool(payment_ids) == (stuck_for is not None):
        raise click.UsageError("give payment ids or --stuck-for DURATION (one of the two)")
    plan = _plan(payment_ids, stuck_for, limit)
    if dry_run:
        for redrive in plan.redrives:
            click.echo(f"{redrive.payment_id} {redrive.step} {redrive.target}")
        counts: Counter[Step] = Counter(r.step for r in plan.redrives)
    else:
        counts = _enqueue(plan.redrives)
    summary = ", ".join(f"{step} {counts[step]}" for step in Step if counts[step]) or "nothing"
    verb = "would re-drive" if dry_run else "re-drove"
    click.echo(f"{verb} {sum(counts.values())} payment(s): {summary}")
    if plan.finished:
        click.echo(f"{len(plan.finished)} payment(s) already finished, e-mail sent")
    if plan.unknown:
        names = ", ".join(str(pid) for pid in plan.unknown)
        raise click.ClickException(f"{len(plan.unknown)} unknown payment id(s): {names}")
