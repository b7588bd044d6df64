"""Gunicorn settings for `gunicorn 'web:create_app()'`, read from the environment.

- `WEB_CONCURRENCY`: worker processes (default: one per core, at least 2).
- `GUNICORN_THREADS`: threads per worker (default 4); above 1 the `gthread` worker class is
  used, else the `sync` one. A request mostly waits on PostgreSQL, so threads keep a core
  busy with fewer processes (less memory); gthread also keeps client connections alive,
  where a sync worker closes every connection and lingers for the client's FIN (`make
  bench` on 2 cores: 2 x 4 threads served ~550-630 POST/s, 4 sync workers ~390-490).
- `GUNICORN_TIMEOUT`: seconds before a silent worker is restarted (default 30).

Command-line options (`-b`, `--workers`...) still override these.
"""

from __future__ import annotations

import os


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


workers = _int("WEB_CONCURRENCY", max(2, os.cpu_count() or 1))
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = 20
keepalive = 5
# Requests are short and the workers hold pooled database connections: recycling a worker
# every few hundred thousand requests bounds slow leaks without costing throughput.
max_requests = 200_000
max_requests_jitter = 20_000


# With PROMETHEUS_MULTIPROC_DIR set, every worker writes its request counts there and
# GET /metrics sums them: the directory must start empty, and a dead worker's live gauges go.
def on_starting(server: object) -> None:
    """Empty (or create) PROMETHEUS_MULTIPROC_DIR before any worker starts."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        import shutil

        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """Forget a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


# gunicorn 27's control socket sits at one path per user (~/.gunicorn/gunicorn.ctl): several
# API processes on one machine (the tests, the bench, a second instance) would take it from
# each other. Nothing here uses it.
control_socket_disable = True
