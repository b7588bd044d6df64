"""One log line per HTTP request, timed from its start (the format is `payments.logs`)."""

from __future__ import annotations

import logging
import time
import uuid

from flask import Flask, Response, g, request

from payments.config import Settings
from payments.logs import configure

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs"})

log = logging.getLogger("payments.http")


def _payment_id(response: Response) -> str | None:
    """The payment a request was about: from the URL, else from a created resource's Location."""
    candidate = (request.view_args or {}).get("payment_id") or ""
    location = response.headers.get("Location", "")
    if not candidate and location.startswith("/payments/"):
        candidate = location.removeprefix("/payments/")
    try:
        return str(uuid.UUID(str(candidate)))
    except ValueError:
        return None


def _printable(text: str, limit: int = 200) -> str:
    """`text` safe for one log line: no control characters, bounded length."""
    return "".join(c if c.isprintable() else "?" for c in text[:limit])


def log_request(response: Response) -> Response:
    """One line per HTTP request: method, path, status, duration, request and payment ids,
    and the name of the API key that made it."""
    from web.errors import request_id

    elapsed_ms = request_seconds() * 1000
    level = logging.DEBUG if request.path in QUIET_PATHS else logging.INFO
    log.log(
        level,
        "%s %s %d %.1fms",
        request.method,
        _printable(request.path),
        response.status_code,
        elapsed_ms,
        extra={
            "request_id": request_id(),
            "payment_id": _payment_id(response),
            "api_key": g.get("api_key_name"),  # a `flask keys` key's NAME, never the key
        },
    )
    return response


def request_seconds() -> float:
    """Seconds since this request started (0 when its start was not recorded)."""
    started = g.get("request_started")
    return time.perf_counter() - started if started is not None else 0.0


def init_app(app: Flask, settings: Settings) -> None:
    """Configure logging for the app's process and log every request."""
    configure(settings)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    app.after_request(log_request)
