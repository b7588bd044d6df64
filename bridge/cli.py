"""`flask bridge run`: the Kafka -> Dramatiq bridge daemon."""

from __future__ import annotations

import logging

from flask.cli import AppGroup

from payments import bootstrap
from payments.cli_support import stop_on_signals

log = logging.getLogger("payments.daemon")

bridge_cli = AppGroup("bridge", help="The Kafka -> Dramatiq bridge.")


@bridge_cli.command("run")
def bridge_run() -> None:
    """Consume the topics and enqueue their actors until stopped (SIGTERM/SIGINT)."""
    from bridge.consumer import Bridge, make_consumer, routes_for

    container = bootstrap.current()
    settings = container.settings
    stop = stop_on_signals()
    routes = routes_for(settings, container.broker)
    log.info(
        "bridge starting group=%s topics=%d settings=%s",
        settings.kafka_group_id,
        len(routes),
        settings.describe(),
    )
    daemon = Bridge(lambda: make_consumer(settings, list(routes)), routes)
    daemon.run(stop)
    log.info("bridge stopped, enqueued=%d", daemon.enqueued)
