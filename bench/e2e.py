"""End-to-end phase: offered loads through API, relay, Kafka, bridge, Dramatiq and SMTP.

Every payment has its own e-mail address; its latency runs from the moment the load
generator started the POST to the moment the SMTP server received the e-mail. A step offers
`rate` payments/s for `seconds` (an open loop: late answers do not slow the offer), then
waits up to `drain_seconds` for the stragglers. Settled/s is the step's e-mails divided by
the time from its first e-mail to its last (the pace e-mails arrived at, whatever the
pipeline's latency: a pipeline that keeps up delivers at the offered pace, one that falls
behind spreads them out); a rate is sustained when at least 99% of its payments were
accepted and e-mailed and settled/s kept up with at least 95% of it.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bench import breakdown, cpu, loadgen, profiler
from bench.payloads import EMAIL_DOMAIN, payment_body, post_request
from bench.procs import (
    BRIDGE_ARGV,
    SIMULATOR_ARGV,
    Service,
    api_argv,
    gateway_argv,
    relay_argv,
    wait_ready,
    worker_argv,
)
from bench.settings import BenchSettings
from bench.stack import BenchStack
from bench.stats import summary_ms
from devstack.procs import free_port

log = logging.getLogger("bench")
SUSTAIN_ACCEPTED = 0.99
SUSTAIN_PACE = 0.95


@dataclass
class Pipeline:
    """The running processes and the SMTP server's receipt log."""

    port: int
    services: dict[str, Service]
    mail_log: Path
    database: str
    engine: Engine
    receipts: dict[str, float] = field(default_factory=dict)
    _offset: int = 0

    def read_receipts(self) -> dict[str, float]:
        """Recipient -> receipt time, reading what the SMTP server appended since last time."""
        with open(self.mail_log, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        for line in chunk[:end].decode().splitlines():
            stamp, _, rcpt = line.partition(" ")
            self.receipts.setdefault(rcpt, float(stamp))
        return self.receipts

    def cpu(self) -> dict[str, float]:
        """CPU seconds so far of each service, the run's PostgreSQL backends and the brokers."""
        groups = {n: s.pid for n, s in self.services.items() if n != "smtp" and s.alive()}
        return cpu.snapshot(groups, self.database)

    def stop(self) -> None:
        """Stop every process at once (each records its peak memory first)."""
        for service in self.services.values():
            service.terminate()
        for service in self.services.values():
            service.stop()

    def check_alive(self) -> None:
        """Fail with the log's tail if a process died."""
        for service in self.services.values():
            if not service.alive():
                raise RuntimeError(f"{service.name} exited:\n{service.tail()}")


def start(
    stack: BenchStack,
    bench: BenchSettings,
    phase: str,
    commands: dict[str, list[str] | None] | None = None,
    gateway_latency_ms: int = 0,
    **env_overrides: str,
) -> Pipeline:
    """Start the SMTP server, the API, the relay, the bridge and the two worker pools for one
    step (`commands` replaces a process's command by name, None leaves it out: the
    skeleton's), with the simulated gateway answering after `gateway_latency_ms`.

    Each step has its own topics, consumer group and Dramatiq namespace (`phase`), so the
    backlog an overloaded step leaves behind never slows the next one.
    """
    stack.create_topics(phase)
    smtp_port, api_port, gateway_port = free_port(), free_port(), free_port()
    log_dir = stack.log_dir / phase
    log_dir.mkdir(parents=True, exist_ok=True)
    mail_log = log_dir / "mail-receipts.txt"
    mail_log.write_text("")
    env = stack.env(
        phase,
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp_port),
        GATEWAY_LATENCY_MS=str(gateway_latency_ms),
        GATEWAY_URL=f"http://127.0.0.1:{gateway_port}",
        WEB_CONCURRENCY=str(bench.api_workers),
        GUNICORN_THREADS=str(bench.api_threads),
        **env_overrides,
        **bench.extra_env,
    )
    smtp_argv = [sys.executable, "-m", "devstack.smtpsink", "--port", str(smtp_port),
                 "--receipts", str(mail_log)]  # fmt: skip
    argv: dict[str, list[str] | None] = {
        "api": api_argv(api_port),
        "relay": relay_argv(bench),
        "bridge": BRIDGE_ARGV,
        "worker": worker_argv(bench.worker_processes, bench.worker_threads),
        "gateway": gateway_argv(bench.gateway_processes, bench.gateway_threads),
        **{
            name: None if c is None else [a.replace("{port}", str(api_port)) for a in c]
            for name, c in (commands or {}).items()
        },
    }
    relays = {"relay" if i == 0 else f"relay{i + 1}": argv["relay"] for i in range(bench.relays)}
    wanted = {"api": argv["api"], **relays, **{n: argv[n] for n in ("bridge", "worker", "gateway")}}
    services = {
        "smtp": Service("smtp", smtp_argv, env, log_dir),
        "simulator": Service("simulator", SIMULATOR_ARGV, env, log_dir),
        **{name: Service(name, line, env, log_dir) for name, line in wanted.items() if line},
    }
    for service in services.values():
        service.start()
    database = make_url(env["DATABASE_URL"]).database or ""
    pipeline = Pipeline(api_port, services, mail_log, database, stack.engine)
    try:
        wait_ready(services["simulator"], f"{env['GATEWAY_URL']}/_simulator/health")
        wait_ready(services["api"], f"http://127.0.0.1:{api_port}/healthz")
        warm_up(pipeline, phase)
    except BaseException:
        pipeline.stop()
        raise
    return pipeline


def warm_up(pipeline: Pipeline, phase: str, timeout: int = 90) -> None:
    """A few payments through the whole pipeline: the bridge joined its group, pools are open."""
    result = step(pipeline, rate=5, seconds=1, drain_seconds=timeout, tag=f"warmup-{phase}")
    if result["emailed"] < result["accepted"] or not result["accepted"]:
        raise RuntimeError(f"warm-up payments did not reach SMTP: {result}")


def _request(port: int, tag: str) -> Callable[[int], tuple[bytes, str]]:
    def make(i: int) -> tuple[bytes, str]:
        email = f"{tag}-{i}@{EMAIL_DOMAIN}"
        return post_request("127.0.0.1", port, payment_body(email)), email

    return make


def step(
    pipeline: Pipeline, rate: int, seconds: int, drain_seconds: int, tag: str
) -> dict[str, Any]:
    """Offer `rate` payments/s for `seconds`; latency POST -> e-mail and settled/s."""
    load, cpu_before = cpu.load_average(), pipeline.cpu()
    samples = loadgen.open_loop("127.0.0.1", pipeline.port, rate, seconds,
                                _request(pipeline.port, tag))  # fmt: skip
    accepted = {s.tag: s for s in samples if s.status == 201}
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        receipts = pipeline.read_receipts()
        if all(t in receipts for t in accepted):
            break
        pipeline.check_alive()
        time.sleep(0.2)
    receipts = pipeline.read_receipts()
    cpu_ms = cpu.per_item_ms(cpu_before, pipeline.cpu(), len(accepted))
    latencies = [
        receipts[t] - s.started if t in receipts else math.inf for t, s in accepted.items()
    ]
    emailed = [t for t in accepted if t in receipts]
    arrivals = sorted(receipts[t] for t in emailed)
    spread = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    settled = (len(arrivals) - 1) / spread if spread > 0 else 0.0
    offered = len(samples)
    sustained = (
        offered > 0
        and len(emailed) >= SUSTAIN_ACCEPTED * offered
        and settled >= SUSTAIN_PACE * rate
    )
    post_ms = summary_ms([s.latency for s in samples if s.status == 201])
    return {
        "rate": rate,
        "seconds": seconds,
        "offered": offered,
        "accepted": len(accepted),
        "rejected": dict(Counter(_status(x.status) for x in samples if x.status != 201)),
        "emailed": len(emailed),
        "settled_per_s": round(settled, 1),
        "sustained": sustained,
        "latency": summary_ms(latencies),
        "post_latency": post_ms,
        "cpu_ms_per_payment": cpu_ms,
        "hops": breakdown.hops(pipeline.engine, f"{tag}-%"),
        "stragglers": breakdown.stragglers(
            pipeline.engine, [t for t in accepted if t not in receipts]
        ),
        "load_average_before": load,
        "tag": tag,
    }


def _profiles(pipeline: Pipeline, seconds: int, log_dir: Path) -> list[profiler.Profile]:
    return [
        profiler.Profile(name, pipeline.services[name].pid, seconds, log_dir)
        for name in ("api", "relay", "bridge", "worker", "gateway")
        if name in pipeline.services
    ]


def measure(
    stack: BenchStack, bench: BenchSettings, rate: int, tag: str, gateway_latency_ms: int = 0
) -> dict[str, Any]:
    """One step on a fresh pipeline and empty tables: offer `rate`/s, drain, record memory
    and (maybe) profiles."""
    stack.empty_tables()
    pipeline = start(stack, bench, tag, gateway_latency_ms=gateway_latency_ms)
    try:
        profiles = (
            _profiles(pipeline, bench.e2e_seconds, stack.log_dir / tag)
            if bench.profile and profiler.available() and rate == bench.profile_rate
            else []
        )
        result = step(pipeline, rate, bench.e2e_seconds, bench.drain_seconds, tag)
        result["gateway_latency_ms"] = gateway_latency_ms
        if profiles:
            result["profile"] = {p.name: p.finish() for p in profiles}
        for service in pipeline.services.values():
            service.sample_memory()
    finally:
        pipeline.stop()
    result["memory"] = {
        name: [m.__dict__ for m in service.memory] for name, service in pipeline.services.items()
    }
    log.info("e2e %d/s: %s", rate, _line(result))
    return result


def next_rate(tried: dict[int, bool], bench: BenchSettings) -> int | None:
    """The next rate of the search: the sustain start first, then bisect (10/s resolution)."""
    if bench.sustain_start not in tried:
        return bench.sustain_start
    best = max((r for r, ok in tried.items() if ok), default=0)
    failed = min((r for r, ok in tried.items() if not ok and r > best), default=None)
    midpoint = (best + failed) // 2 // 10 * 10 if failed is not None else None
    candidate = best + bench.sustain_step if midpoint is None else midpoint
    return candidate if candidate not in tried and candidate > best else None


def run(stack: BenchStack, bench: BenchSettings) -> dict[str, Any]:
    """The fixed loads, then a search for the highest sustained rate, then the loads with a
    slow gateway (`gateway_loads`)."""
    steps = [measure(stack, bench, rate, f"e2e-{rate}") for rate in bench.e2e_rates]
    tried = {s["rate"]: s["sustained"] for s in steps}
    for _ in range(bench.sustain_tries):
        rate = next_rate(tried, bench)
        if rate is None:
            break
        steps.append(measure(stack, bench, rate, f"sustain-{rate}"))
        tried[rate] = steps[-1]["sustained"]
    slow = [
        measure(stack, bench, rate, f"gateway{latency}-{rate}", gateway_latency_ms=latency)
        for latency, rate in bench.gateway_loads
    ]
    return {
        "steps": steps,
        "slow_gateway": slow,
        "highest_sustained": max((r for r, ok in tried.items() if ok), default=0),
        "workers": {
            "api": bench.api_workers,
            "dramatiq_processes": bench.worker_processes,
            "dramatiq_threads": bench.worker_threads,
            "gateway_processes": bench.gateway_processes,
            "gateway_threads": bench.gateway_threads,
        },
    }


def _status(status: int) -> str:
    """An HTTP status, or why there was none."""
    names = {
        loadgen.CONNECTION_ERROR: "connection error",
        loadgen.TIMED_OUT: f"no answer in {loadgen.REQUEST_TIMEOUT_S:.0f} s",
    }
    return names.get(status, str(status))


def _line(s: dict[str, Any]) -> str:
    lat = s["latency"]
    return (
        f"{s['emailed']}/{s['offered']} e-mailed, settled {s['settled_per_s']}/s, "
        f"p50 {lat['p50_ms']} p95 {lat['p95_ms']} p99 {lat['p99_ms']} ms, "
        f"sustained={s['sustained']}"
    )
