"""Exponential backoff as a pure function, a failure counter, and an interruptible sleep."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

# The daemons retry a dead Kafka, Redis or PostgreSQL at most this far apart, so that they
# catch up within seconds of the service's return (a daemon's retry costs one connection).
DAEMON_CAP_S = 5.0


def delay(attempt: int, base: float = 0.2, cap: float = 30.0, jitter: float = 0.2) -> float:
    """Seconds to wait before retry `attempt` (0-based): base * 2**attempt, capped, jittered."""
    raw = min(cap, base * (2 ** min(attempt, 30)))
    return raw * (1 - jitter * random.random())


@dataclass
class Backoff:
    """Counts consecutive failures and says how long to wait after the latest one."""

    base: float = 0.2
    cap: float = DAEMON_CAP_S
    failures: int = 0

    def next_delay(self) -> float:
        """Record one more failure; the seconds to wait before trying again."""
        wait = delay(self.failures, self.base, self.cap)
        self.failures += 1
        return wait

    def reset(self) -> int:
        """Record a success; how many failures preceded it."""
        failures, self.failures = self.failures, 0
        return failures


def sleep(stop: threading.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True if asked to stop meanwhile."""
    return stop.wait(seconds)
