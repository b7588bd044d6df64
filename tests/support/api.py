"""Helpers for API tests: the old front end's request body, keys, payment counts."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, text


def go_request(**changes: Any) -> dict[str, Any]:
    """The body the old Go front end sends: its nine fields, a float amount."""
    body = {
        "user_name": "Ana Souza",
        "user_email": "ana@example.com",
        "event_id": f"evt-{uuid.uuid4().hex[:8]}",
        "event_name": "Rock in Rio",
        "event_description": "Main stage, day 1",
        "event_image_url": "https://img.example.com/rock.png",
        "event_amount": 125.5,
        "payment_token": "TOKEN123",
        "user_language": "pt-BR",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def count_payments(engine: Engine, event_id: str) -> int:
    """How many payments the database holds for this event id."""
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM payments WHERE event_id = :e"), {"e": event_id}
        ).scalar_one()


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return f"key-{uuid.uuid4()}"
