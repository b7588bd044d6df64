"""The payment every phase sends or writes: one shape, so API, raw PostgreSQL and Kafka compare."""

from __future__ import annotations

import json
from typing import Any

EMAIL_DOMAIN = "bench.example"


APPROVED_TOKEN = "TOKEN123"  # noqa: S105 - the gateway's test token, not a secret


def payment_body(email: str = f"fan@{EMAIL_DOMAIN}", token: str = APPROVED_TOKEN) -> dict[str, Any]:
    """A valid POST /payments body (an even token: the gateway approves it)."""
    return {
        "user_name": "Ana Souza",
        "user_email": email,
        "event_id": "evt-42",
        "event_name": "Rock in Rio",
        "event_description": "Main stage",
        "event_image_url": "https://img.example/rock.png",
        "event_amount": "125.50",
        "payment_token": token,
        "user_language": "en",
        "currency": "USD",
    }


def created_event(payment_id: str, email: str = f"fan@{EMAIL_DOMAIN}") -> dict[str, Any]:
    """The payment.created value the API would write for `payment_body(email)`."""
    body = payment_body(email)
    return {
        "payment_id": payment_id,
        "user_name": body["user_name"],
        "user_email": email,
        "user_language": "en",
        "event_id": body["event_id"],
        "event_name": body["event_name"],
        "event_description": body["event_description"],
        "event_image_url": body["event_image_url"],
        "amount": body["event_amount"],
        "currency": body["currency"],
    }


def post_request(
    host: str, port: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> bytes:
    """The raw HTTP/1.1 request bytes of POST /payments with `body` (and `headers`)."""
    data = json.dumps(body, separators=(",", ":")).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    head = (
        f"POST /payments HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data
