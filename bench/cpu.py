"""CPU time used by the pipeline's processes, from /proc: where a payment's CPU goes.

Each service is a process group (gunicorn and dramatiq fork their workers into it); the
run's PostgreSQL backends are found by their database name; the shared brokers (Redis, the
Kafka broker) by their program name.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench.rss import PROC, group

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _matching(words: tuple[str, ...]) -> list[int]:
    pids = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(word in cmdline for word in words):
            pids.append(int(entry.name))
    return pids


def snapshot(groups: dict[str, int], database: str) -> dict[str, float]:
    """CPU seconds so far per service group, for the run's PostgreSQL backends, and brokers."""
    result = {name: sum(cpu_seconds(p.pid) for p in group(pgid)) for name, pgid in groups.items()}
    result["postgres"] = sum(cpu_seconds(pid) for pid in _matching((f" {database} ",)))
    result["redis"] = sum(cpu_seconds(pid) for pid in _matching(("redis-server",)))
    result["kafka broker"] = sum(cpu_seconds(pid) for pid in _matching(("tansu",)))
    return result


def per_item_ms(before: dict[str, float], after: dict[str, float], items: int) -> dict[str, float]:
    """CPU milliseconds per item (payment) for each entry, and their total."""
    if items <= 0:
        return {}
    spent = {k: 1000 * (after[k] - before.get(k, 0.0)) / items for k in after}
    spent["total"] = sum(spent.values())
    return {k: round(v, 2) for k, v in spent.items()}


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat's first line, in ticks): user, nice,
    system, idle, iowait, irq, softirq, steal."""
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def steal_percent(before: list[int], after: list[int]) -> float:
    """Of the CPU time between two `cpu_times`, the share the hypervisor gave to other
    machines (steal): a run with much of it ran on fewer cores than it had."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(spent)
    return round(100 * spent[7] / total, 1) if total else 0.0


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)
