"""Starting a worker process: its container (built from the settings once and installed as
the process's, `bootstrap.current()`), logging, Dramatiq's broker, the workers' metrics."""

from __future__ import annotations

import multiprocessing
import sys

import dramatiq

from payments import bootstrap
from payments.logs import configure


def in_dramatiq_worker() -> bool:
    """Whether this is a process forked by the `dramatiq` command."""
    return "dramatiq.cli" in sys.modules and multiprocessing.parent_process() is not None


def start() -> dramatiq.Broker:
    """Configure logging, install the container's broker as Dramatiq's, add the workers'
    metrics when WORKER_METRICS_PORT is set."""
    built = bootstrap.install_from_env()
    settings = built.settings
    configure(settings)
    broker = built.install_broker()
    if settings.worker_metrics_port and in_dramatiq_worker():
        from tasks.worker_metrics import worker_metrics

        broker.add_middleware(worker_metrics(settings))
    return broker
