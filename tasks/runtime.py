"""The worker process's container: built from the settings once, on first use."""

from __future__ import annotations

import multiprocessing
import sys
import threading

import dramatiq

from payments import bootstrap
from payments.bootstrap import Container
from payments.logs import configure

_lock = threading.Lock()
_container: Container | None = None


def use(container: Container | None) -> None:
    """Install a container built elsewhere (tests), or None to rebuild on next use."""
    global _container
    _container = container


def container() -> Container:
    """The process's composition root (settings read once, from the environment)."""
    global _container
    if _container is None:
        with _lock:
            if _container is None:
                _container = bootstrap.from_env()
    return _container


def in_dramatiq_worker() -> bool:
    """Whether this is a process forked by the `dramatiq` command."""
    return "dramatiq.cli" in sys.modules and multiprocessing.parent_process() is not None


def start() -> dramatiq.Broker:
    """Configure logging, install the container's broker as Dramatiq's, add the workers'
    metrics when WORKER_METRICS_PORT is set."""
    built = container()
    settings = built.settings
    configure(settings)
    broker = built.install_broker()
    if settings.worker_metrics_port and in_dramatiq_worker():
        from tasks.worker_metrics import worker_metrics

        broker.add_middleware(worker_metrics(settings))
    return broker
