"""Exponential backoff as a pure function, and an interruptible sleep."""

from __future__ import annotations

import random
import threading


def delay(attempt: int, base: float = 0.2, cap: float = 30.0, jitter: float = 0.2) -> float:
    """Seconds to wait before retry `attempt` (0-based): base * 2**attempt, capped, jittered."""
    raw = min(cap, base * (2 ** min(attempt, 30)))
    return raw * (1 - jitter * random.random())


def sleep(stop: threading.Event, seconds: float) -> bool:
    """Wait up to `seconds`; True if asked to stop meanwhile."""
    return stop.wait(seconds)
