"""Logging for every process: one line per event, text or JSON lines (`LOG_FORMAT=json`).

Every line carries whatever context ids are known where it was logged: the HTTP request id,
the payment and transaction ids, the CloudEvents id and the Dramatiq message id. Grep one
payment id (then the ce_ids next to it) to follow a payment through the API, the relay, the
bridge and the workers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context

from payments.config import Settings

CONTEXT_FIELDS = (
    "request_id",
    "payment_id",
    "transaction_id",
    "refund_id",
    "event_id",
    "ce_id",
    "message_id",
    "topic",
    "actor",
    "api_key",  # the NAME of a `flask keys` key, never the key or its hash
)


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
    # The stripe library logs every request and response at INFO (paths and status codes,
    # never the key): the service's own lines say what each call did.
    logging.getLogger("stripe").setLevel(logging.WARNING)
    root._payments_configured = True  # type: ignore[attr-defined]
