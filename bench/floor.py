"""Skeleton phase: the floor (bench.skeleton) at the e2e phase's rates, in the same process
layout and settings, so that the service's CPU per payment and rates compare with it in one
run."""

from __future__ import annotations

import logging
import sys
from typing import Any

from bench import e2e
from bench.settings import BenchSettings
from bench.stack import BenchStack
from devstack.procs import ROOT

log = logging.getLogger("bench")
BIN = f"{sys.prefix}/bin"


def commands(bench: BenchSettings) -> dict[str, list[str]]:
    """The skeleton's processes, as the service's are started (same gunicorn settings and
    Dramatiq processes and threads)."""
    return {
        "api": [
            f"{BIN}/gunicorn",
            "bench.skeleton:create_app()",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "-b",
            "127.0.0.1:{port}",
        ],  # fmt: skip
        "relay": [sys.executable, "-m", "bench.skeleton", "relay"],
        "bridge": [sys.executable, "-m", "bench.skeleton", "bridge"],
        "worker": [
            f"{BIN}/dramatiq",
            "bench.skeleton_worker",
            "-p",
            str(bench.worker_processes),
            "-t",
            str(bench.worker_threads),
        ],  # fmt: skip
    }


def measure(stack: BenchStack, bench: BenchSettings, rate: int) -> dict[str, Any]:
    """One step of the skeleton at `rate`/s."""
    tag = f"skeleton-{rate}"
    stack.empty_tables()
    pipeline = e2e.start(stack, bench, tag, commands(bench))
    try:
        result = e2e.step(pipeline, rate, bench.skeleton_seconds, bench.drain_seconds, tag)
    finally:
        pipeline.stop()
    log.info("skeleton %d/s: %s", rate, e2e._line(result))
    return result


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """The skeleton at each of its rates; the highest it sustained."""
    steps = [measure(stack, bench, rate) for rate in bench.skeleton_rates]
    sustained = [s["rate"] for s in steps if s["sustained"]]
    return {"steps": steps, "highest_sustained": max(sustained, default=0)}
