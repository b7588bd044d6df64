"""The simulator's webhook deliveries: Stripe's event envelope, signed as Stripe signs it
(`Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.payload" with the endpoint's
secret>`), sent from a thread of their own and retried with backoff on any non-2xx answer,
as Stripe retries (for days there; ATTEMPTS times here)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import secrets
import threading
import time
from typing import Any

import requests

log = logging.getLogger("payments.gateway.simulator")

ATTEMPTS = 8
FIRST_BACKOFF_S = 0.25


def signature_header(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for `payload`."""
    signed_at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{signed_at}.{payload}".encode(), hashlib.sha256)
    return f"t={signed_at},v1={mac.hexdigest()}"


def envelope(event_type: str, obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    """An event as Stripe sends it (a snapshot of the object after the change)."""
    return {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()),
        "data": {"object": json.loads(json.dumps(obj))},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


class Sender:
    """Delivers events to `url` in order, one at a time, each until a 2xx or ATTEMPTS."""

    def __init__(self, url: str | None, secret: str, api_version: str):
        self.url, self.secret, self.api_version = url, secret, api_version
        self.delivered = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)
        self._thread.start()

    def send(self, event_type: str, obj: dict[str, Any]) -> dict[str, Any] | None:
        """Queue the event (nothing when no URL is set); the event."""
        if not self.url:
            return None
        event = envelope(event_type, obj, self.api_version)
        self._queue.put(event)
        return event

    def deliver(self, event: dict[str, Any]) -> bool:
        """One delivery of `event`, signed now; whether the endpoint took it."""
        assert self.url is not None
        payload = json.dumps(event)
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": signature_header(payload, self.secret),
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) simulator",
        }
        try:
            answer = requests.post(self.url, data=payload, headers=headers, timeout=10)
        except requests.RequestException as err:
            log.warning("webhook %s to %s failed: %s", event["type"], self.url, err)
            return False
        return 200 <= answer.status_code < 300

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            for attempt in range(ATTEMPTS):
                if self.deliver(event):
                    self.delivered += 1
                    break
                time.sleep(FIRST_BACKOFF_S * 2**attempt)
            else:
                log.error("webhook %s %s dropped after %d attempts", event["type"], event["id"],
                          ATTEMPTS)  # fmt: skip
