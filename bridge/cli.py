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
    from bridge.consumer import Batch, Bridge, make_consumer, routes_for
    from bridge.observe import BridgeMetrics

    container = bootstrap.current()
    settings = container.settings
    stop = stop_on_signals()
    batch = Batch(container.broker)
    routes = routes_for(settings, batch)
    log.info(
        "bridge starting group=%s topics=%d metrics_port=%d settings=%s",
        settings.kafka_group_id,
        len(routes),
        settings.bridge_metrics_port,
        settings.describe(),
    )
    metrics = BridgeMetrics()
    if settings.bridge_metrics_port:
        metrics.serve(settings.metrics_host, settings.bridge_metrics_port)
    daemon = Bridge(lambda: make_consumer(settings, list(routes)), routes, hooks=metrics.hooks())
    daemon.run(stop)
    log.info("bridge stopped, enqueued=%d", daemon.enqueued)
