"""Probes beside a daemon's metrics, on its metrics port (contract section 1; the Kubernetes
manifests in deploy/k8s use them): `GET /healthz` is 200 while the process serves, `GET
/readyz` is 200 `ready` or 503 with what the process waits for, anything else is /metrics.

Used by the relay, the bridge and each worker pool (the API has its own routes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

log = logging.getLogger("payments.probes")
FAILING_AFTER = 5  # failed attempts in a row that make a daemon unready

Readiness = Callable[[], str | None]  # why the process is not ready; None when it is


def failing(count: int, after: int = FAILING_AFTER) -> str | None:
    """The readiness of a daemon that has failed `count` attempts in a row."""
    return f"{count} failed attempts in a row" if count >= after else None


def probe_app(registry: CollectorRegistry, readiness: Readiness) -> Callable[..., Iterable[bytes]]:
    """WSGI: /healthz, /readyz (asking `readiness`), and the registry's metrics elsewhere."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path in ("/healthz", "/readyz"):
            reason = readiness() if path == "/readyz" else None
            status = "503 Service Unavailable" if reason else "200 OK"
            start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
            return [(reason or ("ready" if path == "/readyz" else "alive")).encode() + b"\n"]
        return metrics(environ, start_response)

    return app


def serve(
    name: str, registry: CollectorRegistry, readiness: Readiness, host: str, port: int
) -> threading.Thread | None:
    """Serve the probes and metrics on host:port in a daemon thread; None (logged) if it
    cannot bind."""
    try:
        server = make_server(host, port, probe_app(registry, readiness), handler_class=_Quiet)
    except OSError as err:
        log.warning("%s metrics not served on %s:%d: %s", name, host, port, err.strerror or err)
        return None
    thread = threading.Thread(target=server.serve_forever, name=f"{name}-probes", daemon=True)
    thread.start()
    log.info("%s metrics on http://%s:%d/metrics, probes on /healthz and /readyz", name, host, port)
    return thread


class _Quiet(WSGIRequestHandler):
    """No access log line per scrape or probe."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None
