"""The workers' Dramatiq metrics in Prometheus format, on WORKER_METRICS_PORT.

`dramatiq tasks` starts several worker processes. Each one counts with Dramatiq's Prometheus
middleware into files of a directory shared by that one `dramatiq` run (prometheus_client's
multi-process mode, the run named by the dramatiq main process's pid), and one extra process
that Dramatiq forks for the middleware serves their sum at
http://METRICS_HOST:WORKER_METRICS_PORT/metrics. Directories of runs that ended are removed.

prometheus_client picks its multi-process mode when first imported, so nothing here imports
it before `worker_metrics` has set PROMETHEUS_MULTIPROC_DIR.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from dramatiq.middleware import prometheus

from payments import config
from payments.config import Settings

log = logging.getLogger("payments.worker")

PREFIX = "payments-worker-metrics-"


def metrics_dir(namespace: str, run_id: int) -> Path:
    """The directory shared by the processes of one `dramatiq` run."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", namespace)
    return Path(tempfile.gettempdir()) / f"{PREFIX}{safe}-{run_id}"


class WorkerMetrics(prometheus.Prometheus):
    """Dramatiq's Prometheus middleware, served by `serve` instead of Dramatiq's own server
    (which reads its port and directory from variables of the main process's environment)."""

    @property
    def forks(self) -> list[Callable[[], int]]:
        return [serve]


def worker_metrics(settings: Settings) -> WorkerMetrics:
    """The middleware, writing into this run's directory (call in the worker process)."""
    directory = metrics_dir(settings.dramatiq_namespace, os.getppid())
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    prometheus.DB_PATH = str(directory)
    return WorkerMetrics()


def _remove_finished_runs(keep: Path) -> None:
    for path in keep.parent.glob(f"{PREFIX}*"):
        run_id = path.name.rsplit("-", 1)[-1]
        if path != keep and run_id.isdigit() and not _alive(int(run_id)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def readiness(settings: Settings) -> Callable[[], str | None]:
    """A worker pool is ready when its broker (Redis) and PostgreSQL answer: what every
    actor needs before it can do anything."""
    import redis
    from sqlalchemy import text

    from payments.db.engine import make_engine

    client = redis.Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    engine = make_engine(settings.database_url, pool_size=1)

    def check() -> str | None:
        down = []
        try:
            client.ping()
        except redis.RedisError:
            down.append("redis")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure to answer is "down"
            down.append("postgresql")
        return f"waiting for {' and '.join(down)}" if down else None

    return check


def serve() -> int:
    """Serve the summed metrics of this run's workers, and the pool's probes, until killed
    (a Dramatiq fork)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from payments import probes

    settings = config.from_env()  # a process of its own: the settings as every process reads them
    directory = metrics_dir(settings.dramatiq_namespace, os.getppid())
    directory.mkdir(parents=True, exist_ok=True)
    _remove_finished_runs(directory)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    host, port = settings.metrics_host, settings.worker_metrics_port
    thread = probes.serve("worker", registry, readiness(settings), host, port)
    if thread is None:
        return 1
    thread.join()
    return 0
