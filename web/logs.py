"""Logging: one line per event, text or JSON lines (`LOG_FORMAT=json`)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from flask import Flask

from payments.config import Settings

CONTEXT_FIELDS = ("request_id", "payment_id", "ce_id", "message_id")


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
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """Plain text with the context fields appended as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extra = " ".join(f"{n}={getattr(record, n)}" for n in CONTEXT_FIELDS if hasattr(record, n))
        return f"{base} {extra}" if extra else base


def configure(settings: Settings) -> None:
    """Configure the root logger once for this process."""
    root = logging.getLogger()
    if getattr(root, "_payments_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if settings.log_format == "json"
        else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    logging.getLogger("kafka").setLevel(logging.WARNING)
    root._payments_configured = True  # type: ignore[attr-defined]


def init_app(app: Flask, settings: Settings) -> None:
    """Configure logging for the app's process."""
    configure(settings)
