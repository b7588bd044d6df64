"""Logging: one line per event, text or JSON lines (`LOG_FORMAT=json`), the same in every process.

Every line carries whatever context ids are known where it was logged: the HTTP request id,
the payment and transaction ids, the CloudEvents id and the Dramatiq message id. Grep one
payment id (then the ce_ids next to it) to follow a payment through the API, the relay, the
bridge and the workers.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from payments.config import Settings

CONTEXT_FIELDS = (
    "request_id",
    "payment_id",
    "transaction_id",
    "ce_id",
    "message_id",
    "topic",
    "actor",
)
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

log = logging.getLogger("payments.http")


class JsonFormatter(logging.Formatter):
    """A JSON object per line with time, level, logger, message and any context fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is not None:
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """Plain text with the context fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = " ".join(
            f"{n}={getattr(record, n)}"
            for n in CONTEXT_FIELDS
            if getattr(record, n, None) is not None
        )
        return f"{base} {extra}" if extra else base


class ContextFilter(logging.Filter):
    """Adds the ids of the current HTTP request or Dramatiq message to records lacking them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None and has_request_context():
            record.request_id = g.get("request_id")
        message = _current_dramatiq_message()
        if message is not None:
            if getattr(record, "message_id", None) is None:
                record.message_id = message.message_id
            for name in ("ce_id", "payment_id"):
                if getattr(record, name, None) is None and message.options.get(name):
                    setattr(record, name, message.options[name])
        return True


def _current_dramatiq_message() -> Any:
    middleware = sys.modules.get("dramatiq.middleware.current_message")
    return middleware.CurrentMessage.get_current_message() if middleware else None


def formatter_for(settings: Settings) -> logging.Formatter:
    """The formatter LOG_FORMAT asks for."""
    if settings.log_format == "json":
        return JsonFormatter()
    return TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def configure(settings: Settings, stream: Any = None) -> None:
    """Configure the root logger once for this process (stderr unless `stream` is given)."""
    root = logging.getLogger()
    if getattr(root, "_payments_configured", False):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter_for(settings))
    handler.addFilter(ContextFilter())
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    root._payments_configured = True  # type: ignore[attr-defined]


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
    """One line per HTTP request: method, path, status, duration, request and payment ids."""
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
        extra={"request_id": request_id(), "payment_id": _payment_id(response)},
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
