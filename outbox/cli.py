"""`flask outbox ...` and `flask bridge ...`: the daemons' entry points."""

from __future__ import annotations

import logging
import signal
import threading

import click
from flask import current_app
from flask.cli import AppGroup

from web import container_of

log = logging.getLogger("payments.daemon")

outbox_cli = AppGroup("outbox", help="The transactional outbox.")
bridge_cli = AppGroup("bridge", help="The Kafka -> Dramatiq bridge.")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("received %s, stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


@outbox_cli.command("relay")
@click.option("--batch-size", default=500, show_default=True, help="Rows per claim.")
def relay(batch_size: int) -> None:
    """Publish outbox rows to Kafka until stopped (SIGTERM/SIGINT)."""
    from outbox.relay import Relay

    container = container_of(current_app)
    stop = stop_on_signals()
    log.info("relay starting batch_size=%d settings=%s", batch_size, container.settings.describe())
    daemon = Relay(container.engine, container.publisher, batch_size=batch_size)
    daemon.run(stop)
    log.info("relay stopped, published=%d", daemon.published)


@bridge_cli.command("run")
def bridge_run() -> None:
    """Consume the topics and enqueue their actors until stopped (SIGTERM/SIGINT)."""
    from outbox.bridge import Bridge, make_consumer, routes_for

    settings = container_of(current_app).settings
    stop = stop_on_signals()
    routes = routes_for(settings)
    log.info(
        "bridge starting group=%s topics=%d settings=%s",
        settings.kafka_group_id,
        len(routes),
        settings.describe(),
    )
    daemon = Bridge(lambda: make_consumer(settings, list(routes)), routes)
    daemon.run(stop)
    log.info("bridge stopped, enqueued=%d", daemon.enqueued)
