"""Skeleton phase: the floors (bench.skeleton) at the e2e phase's rates, in the same process
layout and settings, so that the service's CPU per payment and rates compare with them in one
run: the four-hop skeleton of the previous design (the reference) and the two-hop skeleton of
today's flow (the floor)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from bench import e2e
from bench.settings import BenchSettings
from bench.skeleton import FLOWS, GATEWAY_QUEUE, QUEUE
from bench.stack import BenchStack
from devstack.procs import ROOT

log = logging.getLogger("bench")
BIN = f"{sys.prefix}/bin"


def _dramatiq(queues: list[str], processes: int, threads: int) -> list[str]:
    return [f"{BIN}/dramatiq", "bench.skeleton_worker", "--queues", *queues,
            "-p", str(processes), "-t", str(threads)]  # fmt: skip


def commands(bench: BenchSettings, flow: str = "two_hops") -> dict[str, list[str] | None]:
    """The skeleton's processes, as the service's are started (same gunicorn settings and
    Dramatiq processes and threads): the two-hop flow with the service's two pools, the
    four-hop flow with the one pool it had."""
    two_hops = flow == "two_hops"
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
        "worker": _dramatiq([QUEUE], bench.worker_processes, bench.worker_threads),
        "gateway": _dramatiq([GATEWAY_QUEUE], bench.gateway_processes, bench.gateway_threads)
        if two_hops
        else None,
    }


def measure(stack: BenchStack, bench: BenchSettings, flow: str, rate: int) -> dict[str, Any]:
    """One step of the `flow` skeleton at `rate`/s."""
    tag = f"skeleton-{flow.replace('_', '')}-{rate}"
    stack.empty_tables()
    pipeline = e2e.start(stack, bench, tag, commands(bench, flow), SKELETON_FLOW=flow)
    try:
        result = e2e.step(pipeline, rate, bench.skeleton_seconds, bench.drain_seconds, tag)
    finally:
        pipeline.stop()
    log.info("skeleton %s %d/s: %s", flow, rate, e2e._line(result))
    return result


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Each skeleton at each of its rates; the highest it sustained."""
    results = {}
    for flow in FLOWS:
        steps = [measure(stack, bench, flow, rate) for rate in bench.skeleton_rates]
        sustained = [s["rate"] for s in steps if s["sustained"]]
        results[flow] = {"steps": steps, "highest_sustained": max(sustained, default=0)}
    return results
