"""`flask outbox ...`: the relay daemon, and the outbox's operator commands."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

import click
from flask.cli import AppGroup

from outbox.janitor import PURGE_BATCH
from payments import bootstrap, probes, services
from payments.cli_support import Duration, UsageProblem, one_line_errors, stop_on_signals
from payments.db.outbox_store import SqlOutbox

log = logging.getLogger("payments.daemon")

outbox_cli = AppGroup("outbox", help="The transactional outbox.")


@outbox_cli.command("relay")
@click.option("--batch-size", default=500, show_default=True, help="Rows per claim.")
def relay(batch_size: int) -> None:
    """Publish outbox rows to Kafka until stopped (SIGTERM/SIGINT)."""
    from outbox.janitor import Janitor
    from outbox.observe import LoggingPublisher, RelayMetrics
    from outbox.relay import Relay

    container = bootstrap.current()
    settings = container.settings
    stop = stop_on_signals()
    log.info(
        "relay starting batch_size=%d metrics_port=%d settings=%s",
        batch_size,
        settings.relay_metrics_port,
        settings.describe(),
    )
    metrics = RelayMetrics()
    daemon = Relay(
        container.engine,
        lambda: LoggingPublisher(container.publisher()),
        batch_size=batch_size,
        on_published=metrics.on_published,
        on_error=metrics.on_error,
    )
    # With a publisher injected (tests) no Kafka stands between the outbox and Redis.
    positions = None if container.has_fake_publisher else container.bridge_positions
    janitor = Janitor(container, metrics.janitor_hooks(), positions)
    if settings.relay_metrics_port:  # ready unless Kafka or PostgreSQL keep failing
        metrics.serve(
            settings.metrics_host,
            settings.relay_metrics_port,
            lambda: probes.failing(daemon.retry.failures),
        )
    janitor.start(stop)
    daemon.run(stop)
    log.info(
        "relay stopped, published=%d purged=%d redriven=%d",
        daemon.published,
        janitor.purged,
        janitor.redriven,
    )


@outbox_cli.command("status")
@one_line_errors
def status() -> None:
    """Show the unpublished events per topic and the age of the oldest."""
    container = bootstrap.current()
    with container.engine.connect() as conn:
        rows = SqlOutbox(conn).backlog()
    now = datetime.now(UTC)
    found = {topic: (count, oldest) for topic, count, oldest in rows}
    configured = container.settings.topics.all()
    topics = configured + sorted(set(found) - set(configured))
    width = max(len(t) for t in [*topics, "TOPIC"])
    click.echo(f"{'TOPIC':<{width}}  {'UNPUBLISHED':>11}  OLDEST")
    for topic in topics:
        count, oldest = found.get(topic, (0, None))
        click.echo(f"{topic:<{width}}  {count:>11}  {format_age(now, oldest)}")
    total = sum(count for count, _ in found.values())
    oldest_all = min((o for _, o in found.values() if o is not None), default=None)
    click.echo(f"total: {total} unpublished, oldest {format_age(now, oldest_all)}")


def format_age(now: datetime, oldest: datetime | None) -> str:
    """How long ago `oldest` was, e.g. '45s', '3m07s', '2h05m', '4d03h'; '-' for none."""
    if oldest is None:
        return "-"
    seconds = max(0, int((now - oldest).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


@outbox_cli.command("purge")
@click.option(
    "--older-than",
    type=Duration(),
    metavar="DURATION",
    help="Delete published rows older than this (30m, 12h, 7d...) [default: "
    "OUTBOX_RETENTION_HOURS].",
)
@one_line_errors
def purge(older_than: float | None) -> None:
    """Delete published outbox rows now (unpublished rows are never deleted).

    The relay does the same continuously after OUTBOX_RETENTION_HOURS; this is for doing it
    at once, or with a shorter retention.
    """
    container = bootstrap.current()
    seconds = (
        older_than if older_than is not None else container.settings.outbox_retention_hours * 3600
    )
    with container.engine.connect() as conn:
        expected = SqlOutbox(conn).count_purgeable(seconds)
    total = 0
    with click.progressbar(length=max(expected, 1), label="purging", show_pos=True) as bar:
        while True:
            with container.engine.begin() as conn:
                count = SqlOutbox(conn).purge_published(seconds, PURGE_BATCH)
            if not count:
                break
            total += count
            bar.update(count)
    click.echo(f"purged {total} published outbox rows older than {format_seconds(seconds)}")


def format_seconds(seconds: float) -> str:
    """'90s', '30m', '12h', '7d' for a retention."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@outbox_cli.command("replay")
@click.option("--payment", "payment_id", metavar="ID", help="Replay this payment's events.")
@click.option(
    "--since", metavar="TIME", help="Replay events since this ISO 8601 time (UTC if naive)."
)
@click.option("--topic", metavar="NAME", help="Only events of this topic.")
@click.option("--batch-size", default=100, show_default=True, help="Events per Kafka flush.")
@click.option(
    "--timeout", default=10.0, show_default=True, help="Seconds to wait for Kafka to answer."
)
@one_line_errors
def replay(
    payment_id: str | None, since: str | None, topic: str | None, batch_size: int, timeout: float
) -> None:
    """Re-publish events with their original ce_id.

    Already-published events go to Kafka again, unchanged. Give exactly one of --payment ID
    or --since TIME (ISO 8601; naive means UTC); --topic narrows either.
    """
    from outbox import replay as use_case

    container = bootstrap.current()
    if (payment_id is None) == (since is None):
        raise UsageProblem("give exactly one of --payment ID or --since TIME")
    try:
        payment = use_case.parse_payment_id(payment_id) if payment_id else None
        moment = use_case.parse_since(since) if since else None
    except ValueError as err:
        raise UsageProblem(str(err)) from None
    known = container.settings.topics.all()
    if topic is not None and topic not in known:
        raise UsageProblem(f"unknown topic {topic!r}; one of: {', '.join(known)}")
    if payment and services.find_payment(container.uow(), UUID(payment)) is None:
        raise click.ClickException(f"no payment {payment}")
    messages = use_case.select_events(container.engine, payment, moment, topic)
    if not messages:
        click.echo("nothing to replay: no published event matches")
        return
    publisher = container.publisher(timeout_s=timeout)
    try:
        with click.progressbar(length=len(messages), label="replaying") as bar:
            for count in use_case.republish(publisher, messages, batch_size):
                bar.update(count)
    finally:
        publisher.close()
    click.echo(f"replayed {len(messages)} events")
