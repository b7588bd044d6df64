"""Gateway phase: what one charge costs over HTTP (the `stripe` library to the simulator,
contract section 12) beside the in-process rule it replaced (issue 28).

The same charges three ways: the section 4 rule called in process (what the previous
release's `SimulatedGateway` did, without its sleep); then `StripeGateway` over HTTP to the
simulator, from BENCH_GATEWAY_THREADS threads sharing one connection pool, as a gateway
pool's threads do. CPU is this process's (the client) and the simulator's, per charge.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bench import rss
from bench.cpu import cpu_seconds
from bench.procs import SIMULATOR_ARGV, Service, wait_ready
from bench.settings import BenchSettings
from bench.stack import BenchStack
from devstack.procs import free_port
from payments.adapters.gateway import FakeGateway
from payments.adapters.stripe_gateway import StripeGateway
from payments.config import SIMULATOR_API_KEY
from payments.domain.secret import PaymentToken
from payments.ports import Charge

log = logging.getLogger("bench")


def group_cpu(pid: int) -> float:
    """CPU seconds of a process and its forked workers (gunicorn's worker serves)."""
    return sum(cpu_seconds(p.pid) for p in rss.group(pid))


def charges(count: int) -> list[Charge]:
    now = datetime.now(UTC)
    token = PaymentToken("pm_card_visa")
    return [
        Charge(uuid.uuid4(), uuid.uuid4(), token, Decimal("125.50"), "USD", now)
        for _ in range(count)
    ]


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """Charge BENCH_GATEWAY_CHARGES times in process, then over HTTP."""
    count = int(os.environ.get("BENCH_GATEWAY_CHARGES", "2000"))
    threads = int(os.environ.get("BENCH_GATEWAY_THREADS", "16"))
    fake = FakeGateway()
    batch = charges(count)
    cpu0 = time.process_time()
    for charge in batch:
        fake.charge(charge)
    in_process_ms = 1000 * (time.process_time() - cpu0) / count

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = stack.env("gateway", GATEWAY_URL=url, GATEWAY_LATENCY_MS="0")
    simulator = Service("simulator-bench", SIMULATOR_ARGV, env, stack.log_dir).start()
    try:
        wait_ready(simulator, f"{url}/_simulator/health")
        gateway = StripeGateway(SIMULATOR_API_KEY, url, timeout_s=10, pool_size=threads)
        for charge in charges(100):  # warm: connections open, code paths loaded
            gateway.charge(charge)
        batch = charges(count)
        walls: list[float] = []

        def one(charge: Charge) -> None:
            started = time.perf_counter()
            gateway.charge(charge)
            walls.append(1000 * (time.perf_counter() - started))

        sim0, cpu0, wall0 = group_cpu(simulator.pid), time.process_time(), time.monotonic()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, batch))
        elapsed = time.monotonic() - wall0
        client_ms = 1000 * (time.process_time() - cpu0) / count
        simulator_ms = 1000 * (group_cpu(simulator.pid) - sim0) / count
    finally:
        simulator.stop()
    walls.sort()
    result = {
        "charges": count,
        "threads": threads,
        "in_process_cpu_ms": round(in_process_ms, 3),
        "http_client_cpu_ms": round(client_ms, 2),
        "http_simulator_cpu_ms": round(simulator_ms, 2),
        "http_per_s": round(count / elapsed, 1),
        "http_p50_ms": round(statistics.median(walls), 2),
        "http_p99_ms": round(walls[int(len(walls) * 0.99) - 1], 2),
    }
    log.info("gateway: %s", result)
    return result
