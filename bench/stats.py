"""Percentiles and rates, with unfinished work counted as infinitely late."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; inf values sort last; nan if empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 and max of latencies given in seconds, in milliseconds."""
    return {f"p{q}_ms": round(1000 * percentile(seconds, q), 1) for q in (50, 95, 99)} | {
        "max_ms": round(1000 * max(seconds), 1) if seconds else math.nan
    }
