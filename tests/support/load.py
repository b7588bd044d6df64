"""Posting payments to the real API at a steady pace, remembering every answer.

Each logical payment has its own recipient address and Idempotency-Key. No answer (the API
was killed), a 503 (database unreachable) and a 409 (the key's first request still counts as
in flight: it died with its API, and its lease has not run out) are retried with the same key
after Retry-After, as the contract asks of clients, so that a retry can never create a second
payment and every client gets its 201 in the end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

RETRY_FOR_S = 120.0  # above the idempotency lease (60 s) of a request that died in flight
RETRIED = (0, 409, 503)


@dataclass
class Outcome:
    """What happened to one logical payment."""

    email: str
    payment_id: str | None = None
    statuses: list[tuple[float, int]] = field(default_factory=list)  # (wall time, HTTP status)


@dataclass
class Load:
    """Posts `count` payments over `seconds`; thread-safe record of the answers."""

    base_url: str
    count: int
    seconds: float
    tag: str
    auth: dict[str, str] = field(default_factory=dict)  # the caller's key, as a header
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, threads: int = 4) -> Load:
        """Post every payment; returns when each was accepted or given up on."""
        started = time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            for i in range(self.count):
                pause = started + i * self.seconds / self.count - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                pool.submit(self._post, i)
        return self

    def start(self, threads: int = 4) -> threading.Thread:
        """Run in the background."""
        thread = threading.Thread(target=self.run, args=(threads,), daemon=True)
        thread.start()
        return thread

    def _post(self, i: int) -> None:
        outcome = Outcome(f"p{i}-{self.tag}-{uuid.uuid4().hex[:6]}@faults.example")
        with self.lock:
            self.outcomes.append(outcome)
        body = {
            "user_name": f"Fan {i}",
            "user_email": outcome.email,
            "event_id": "evt-faults",
            "event_name": "Fault Fest",
            "event_amount": "42.00",
            "payment_token": "TOKEN123" if i % 2 == 0 else "ODD12",
            "user_language": ("en", "pt-BR", "es")[i % 3],
        }
        headers = {"Idempotency-Key": uuid.uuid4().hex, **self.auth}
        give_up = time.monotonic() + RETRY_FOR_S
        while True:
            try:
                response = requests.post(
                    f"{self.base_url}/payments", json=body, headers=headers, timeout=15
                )
                status = response.status_code
            except requests.RequestException:
                status = 0
            with self.lock:
                outcome.statuses.append((time.time(), status))
            if status == 201:
                outcome.payment_id = response.json()["id"]
                return
            if status not in RETRIED or time.monotonic() > give_up:
                return
            wait = response.headers.get("Retry-After", "1") if status else "1"
            time.sleep(min(5.0, float(wait)) if wait.isdigit() else 1.0)

    @property
    def accepted(self) -> list[str]:
        """Ids of the payments the API accepted (201)."""
        with self.lock:
            return [o.payment_id for o in self.outcomes if o.payment_id]

    @property
    def emails(self) -> dict[str, str]:
        """Payment id -> its recipient, for accepted payments."""
        with self.lock:
            return {o.payment_id: o.email for o in self.outcomes if o.payment_id}

    def status_counts(self) -> Counter[int]:
        """How often each HTTP status was answered (0: no answer)."""
        with self.lock:
            return Counter(status for o in self.outcomes for _, status in o.statuses)

    def statuses_between(self, start: float, end: float) -> Counter[int]:
        """The statuses answered between two wall-clock times."""
        with self.lock:
            return Counter(
                status for o in self.outcomes for at, status in o.statuses if start <= at <= end
            )
