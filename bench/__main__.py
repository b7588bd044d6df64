"""`python -m bench`: run the phases (BENCH_PHASES=api,relay,e2e), print and write the tables."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    api,
    cancellation,
    cpu,
    e2e,
    floor,
    gateway,
    history,
    relay,
    report,
    settings,
    webhooks,
)
from bench.stack import BenchStack

log = logging.getLogger("bench")
PHASES = {
    "api": api.run,
    "relay": relay.run,
    "e2e": e2e.run,
    "skeleton": floor.run,
    "cancel": cancellation.run,
    "gateway": gateway.run,
    "webhooks": webhooks.run,
    "history": history.run,
}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    """Run every requested phase; results even when a later phase fails."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    bench = settings.from_env()
    started, t0 = datetime.now(UTC), time.monotonic()
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", ".run/bench"))
    results: dict[str, Any] = {"settings": bench.__dict__}
    meta: dict[str, Any] = {
        "command": os.environ.get("BENCH_COMMAND", "make bench"),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
        "commit": _commit(),
        "started": started.isoformat(timespec="seconds"),
        "load_before": cpu.load_average(),
    }
    times_before = cpu.cpu_times()
    stack = BenchStack.create(log_dir)
    failed = False
    try:
        for phase in bench.phases:
            log.info("phase %s (load average %s)", phase, cpu.load_average())
            try:
                results[phase] = PHASES[phase](stack, bench)
            except Exception:
                log.exception("phase %s failed; logs in %s", phase, log_dir)
                failed = True
    finally:
        stack.close()
    meta |= {
        "load_after": cpu.load_average(),
        "wall_seconds": time.monotonic() - t0,
        "steal_percent": cpu.steal_percent(times_before, cpu.cpu_times()),
    }
    results["meta"] = meta
    complete = set(bench.phases) == set(PHASES)
    print(report.write(results, report.HERE if complete else log_dir))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
