"""`make soak` (not in CI): the whole pipeline for a long time at a steady rate, with SIGKILLs.

- `SOAK_MINUTES` (30): how long; `SOAK_WINDOW_S` (300): one report row per window.
- `SOAK_RATE`: payments/s offered (an open loop); default half the highest rate `make bench`
  sustained (bench/results.json), at least 5.
- `SOAK_KILL_EVERY` (2): every that many windows, halfway through one, a SIGKILL of the next
  of worker, relay, bridge, gateway (its whole process group), restarted at once.
- `SOAK_OUT` (bench/soak): where soak.md, soak.json and soak.png go.
- `SOAK_WARMUP_BURST_S` (30): before the first window, that many seconds at three times the
  rate: every pool (threads, Redis and PostgreSQL connections) grows to what a backlog needs
  before anything is measured, as the backlog after a SIGKILL would make it grow later.
- `SOAK_VACUUM` (1): when the server's autovacuum is off (this machine's), `VACUUM ANALYZE`
  after each window, standing in for it (0: measure without).

Per window: p50/p99 POST -> e-mail, accepted and e-mailed; per process: CPU (also of the
broker, PostgreSQL and Redis), RSS (the group's, summed), open file descriptors, TCP
connections to PostgreSQL and to Redis; Redis memory and
key count; the outbox's rows and every table's size; log lines at ERROR per process. The
report compares the first window after warm-up with the last.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, text

from bench import e2e, rss, settings
from bench.procs import Service
from bench.stack import BenchStack

log = logging.getLogger("bench")
KILLED_IN_TURN = ("worker", "relay", "bridge", "gateway")
POSTGRES_PORT, REDIS_PORT = 5432, 6379
GROWTH_LIMIT = 0.10  # issue 26: RSS and descriptors flat, under 10% growth after warm-up


def _socket_inodes(pid: int) -> set[int]:
    found: set[int] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return found
    for entry in entries:
        try:
            target = os.readlink(entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


def _descriptors(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def connections_to(ports: Iterable[int]) -> dict[int, int]:
    """Socket inode -> remote port, for every established TCP connection to one of `ports`."""
    wanted = set(ports)
    found: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and remote_port in wanted:  # ESTABLISHED
                found[int(fields[9])] = remote_port
    return found


def process_sample(service: Service, sockets: dict[int, int]) -> dict[str, Any]:
    """One process group: RSS (MiB, summed), descriptors, connections to PostgreSQL and Redis."""
    group = rss.group(service.pid) if service.alive() else []
    inodes: set[int] = set()
    for proc in group:
        inodes |= _socket_inodes(proc.pid)
    ports = [sockets[i] for i in inodes if i in sockets]
    return {
        "processes": len(group),
        "rss_mib": round(sum(p.rss_mib for p in group), 1),
        "fds": sum(_descriptors(p.pid) for p in group),
        "pg_connections": ports.count(POSTGRES_PORT),
        "redis_connections": ports.count(REDIS_PORT),
    }


def cpu_share(
    before: dict[str, float], after: dict[str, float], seconds: float
) -> dict[str, float]:
    """Per name: the CPU used between two samples, in % of one core. A process started again
    since `before` counts from zero."""
    shares = {}
    for name, total in after.items():
        used = total - before.get(name, 0.0)
        shares[name] = round(100 * (used if used >= 0 else total) / seconds, 1)
    return shares


def redis_sample(url: str, namespace: str) -> dict[str, Any]:
    client = redis.Redis.from_url(url)
    try:
        info: Any = client.info("memory")
        ours = sum(1 for _ in client.scan_iter(match=f"{namespace}*", count=1000))
        return {
            "used_mib": round(info["used_memory"] / 2**20, 1),
            "keys": client.dbsize(),
            "namespace_keys": ours,
        }
    finally:
        client.close()


def database_sample(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        sizes = conn.execute(
            text(
                "SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables "
                "ORDER BY 2 DESC"
            )
        ).all()
        outbox = conn.execute(text("SELECT count(*) FROM outbox")).scalar_one()
        unpublished = conn.execute(
            text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        ).scalar_one()
        backends = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        ).scalar_one()
        dead = conn.execute(
            text("SELECT relname, n_dead_tup FROM pg_stat_user_tables WHERE n_dead_tup > 0")
        ).all()
        autovacuum = conn.execute(text("SHOW autovacuum")).scalar_one()
    return {
        "outbox_rows": outbox,
        "outbox_unpublished": unpublished,
        "backends": backends,
        "table_mib": {name: round(size / 2**20, 2) for name, size in sizes},
        "dead_tuples": dict(dead),
        "autovacuum": autovacuum,
    }


def error_lines(log_dir: Path) -> dict[str, int]:
    """Per log file: lines logged at ERROR or CRITICAL, and tracebacks."""
    counts = {}
    for path in sorted(log_dir.glob("*.log")):
        with path.open(errors="replace") as f:
            counts[path.stem] = sum(
                1
                for line in f
                if '"level": "ERROR"' in line
                or '"level": "CRITICAL"' in line
                or " ERROR " in line
                or line.startswith("Traceback")
            )
    return counts


def log_bytes(log_dir: Path) -> dict[str, int]:
    return {p.stem: p.stat().st_size for p in sorted(log_dir.glob("*.log"))}


def vacuum_if_the_server_does_not(engine: Engine) -> bool:
    """With PostgreSQL's autovacuum off (this machine's test server), VACUUM ANALYZE every
    table once, standing in for it: without it the dead tuples every published outbox row and
    settled payment leave pile up and the soak measures the server's setting, not the
    service. True when it did."""
    with engine.connect() as conn:
        if conn.execute(text("SHOW autovacuum")).scalar_one() == "on":
            return False
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))
    return True


def default_rate() -> int:
    """Half the highest rate the last `make bench` sustained (at least 5/s)."""
    try:
        results = json.loads((Path(__file__).parent / "results.json").read_text())
        sustained = int(results["e2e"]["highest_sustained"] or 0)
    except (OSError, KeyError, TypeError, ValueError):
        sustained = 0
    return max(5, sustained // 2)


class Killer(threading.Thread):
    """SIGKILLs a process group `after` seconds from now and starts it again at once."""

    def __init__(self, service: Service, after: float, record: list[dict[str, Any]]):
        super().__init__(name=f"kill-{service.name}", daemon=True)
        self.service, self.after, self.record = service, after, record

    def run(self) -> None:
        time.sleep(self.after)
        self.service.kill(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.service.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.service.start()
        self.record.append({"at": time.time(), "process": self.service.name})
        log.info("soak: SIGKILLed %s and started it again", self.service.name)


def run_soak(
    stack: BenchStack,
    minutes: float,
    window_s: int,
    rate: int,
    kill_every: int,
    vacuum: bool,
    warmup_burst_s: int = 30,
) -> dict[str, Any]:
    bench = settings.from_env()
    pipeline = e2e.start(stack, bench, "soak")
    phase_env = stack.env("soak")
    namespace = phase_env["DRAMATIQ_NAMESPACE"]
    redis_url = stack.settings("soak").redis_url
    log_dir = stack.log_dir / "soak"
    windows: list[dict[str, Any]] = []
    kills: list[dict[str, Any]] = []
    started = time.time()
    count = max(1, math.ceil(minutes * 60 / window_s))
    try:
        if warmup_burst_s:
            burst = e2e.step(
                pipeline, rate * 3, warmup_burst_s, drain_seconds=300, tag="soak-burst"
            )
            log.info("soak warm-up burst: %d/%d e-mailed", burst["emailed"], burst["accepted"])
        for n in range(count):
            killer = None
            if kill_every and n > 0 and n % kill_every == 0:
                victim = KILLED_IN_TURN[(n // kill_every - 1) % len(KILLED_IN_TURN)]
                killer = Killer(pipeline.services[victim], window_s / 2, kills)
                killer.start()
            cpu_before, clock = pipeline.cpu(), time.monotonic()
            result = e2e.step(pipeline, rate, window_s, drain_seconds=180, tag=f"soak-w{n}")
            cpu = cpu_share(cpu_before, pipeline.cpu(), time.monotonic() - clock)
            if killer is not None:
                killer.join()
            vacuumed = vacuum and vacuum_if_the_server_does_not(stack.engine)
            sockets = connections_to((POSTGRES_PORT, REDIS_PORT))
            window = {
                "window": n,
                "minute": round((time.time() - started) / 60, 1),
                "offered": result["offered"],
                "accepted": result["accepted"],
                "emailed": result["emailed"],
                "rejected": result["rejected"],
                "latency": result["latency"],
                "killed": killer.service.name if killer else None,
                "vacuumed": vacuumed,
                "cpu_pct": cpu,
                "processes": {
                    name: process_sample(service, sockets)
                    for name, service in pipeline.services.items()
                },
                "redis": redis_sample(redis_url, namespace),
                "database": database_sample(stack.engine),
            }
            windows.append(window)
            log.info(
                "soak window %d: %d/%d e-mailed, p99 %.0f ms, killed %s",
                n,
                window["emailed"],
                window["accepted"],
                window["latency"]["p99_ms"],
                window["killed"],
            )
    finally:
        pipeline.stop()
    return {
        "minutes": minutes,
        "window_s": window_s,
        "rate": rate,
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "warmup_burst_s": warmup_burst_s,
        "windows": windows,
        "kills": kills,
        "errors": error_lines(log_dir),
        "log_bytes": log_bytes(log_dir),
    }


def growth(first: float, last: float) -> float:
    return (last - first) / first if first else 0.0


def report(result: dict[str, Any]) -> str:
    """The markdown report: per window, then per process first vs last."""
    windows = result["windows"]
    lines = [
        "# Soak",
        "",
        f"{result['minutes']} minutes at {result['rate']} payments/s offered, windows of "
        f"{result['window_s']} s, started {result['started']}; SIGKILLs: "
        + (", ".join(f"{k['process']}" for k in result["kills"]) or "none")
        + ". Command: `make soak` with the environment shown in `soak.json`.",
        "",
        "![RSS per process and p99 per window](soak.png)",
        "",
        "| window | minute | accepted | e-mailed | p50 ms | p99 ms | killed | outbox rows "
        "| Redis MiB | Redis keys |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in windows:
        lines.append(
            f"| {w['window']} | {w['minute']} | {w['accepted']} | {w['emailed']} "
            f"| {w['latency']['p50_ms']:.0f} | {w['latency']['p99_ms']:.0f} "
            f"| {w['killed'] or ''}{' (then VACUUM)' if w.get('vacuumed') else ''} "
            f"| {w['database']['outbox_rows']} | {w['redis']['used_mib']} "
            f"| {w['redis']['namespace_keys']} |"
        )
    if windows and "cpu_pct" in windows[0]:
        names = list(windows[0]["cpu_pct"])
        lines += [
            "",
            "CPU per window, % of one core (of two), per process group and outside service:",
            "",
            "| window | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for w in windows:
            shares = w["cpu_pct"]
            lines.append(
                f"| {w['window']} | " + " | ".join(f"{shares.get(n, 0):.0f}" for n in names) + " |"
            )
    if len(windows) >= 2:
        first, last = windows[1] if len(windows) > 2 else windows[0], windows[-1]
        lines += [
            "",
            f"Per process, window {first['window']} (after warm-up) against the last "
            f"(growth limit {GROWTH_LIMIT:.0%}; a killed process starts again from nothing):",
            "",
            "| process | RSS MiB | growth | descriptors | growth | PostgreSQL conns "
            "| Redis conns | ERROR lines | log MiB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, start in first["processes"].items():
            end = last["processes"][name]
            rss, fds = growth(start["rss_mib"], end["rss_mib"]), growth(start["fds"], end["fds"])
            lines.append(
                f"| {name} | {start['rss_mib']} -> {end['rss_mib']} | {rss:+.0%} "
                f"| {start['fds']} -> {end['fds']} | {fds:+.0%} "
                f"| {start['pg_connections']} -> {end['pg_connections']} "
                f"| {start['redis_connections']} -> {end['redis_connections']} "
                f"| {result['errors'].get(name, 0)} "
                f"| {result['log_bytes'].get(name, 0) / 2**20:.1f} |"
            )
        tables = last["database"]["table_mib"]
        lines += [
            "",
            "Table sizes at the end (MiB): "
            + ", ".join(f"{k} {v}" for k, v in list(tables.items())[:8])
            + f". Database backends: {first['database']['backends']} -> "
            f"{last['database']['backends']}.",
        ]
        dead = last["database"].get("dead_tuples")
        if dead is not None:
            lines += [
                "",
                f"PostgreSQL's autovacuum: {last['database'].get('autovacuum')}; dead tuples at "
                "the end: "
                + (", ".join(f"{k} {v}" for k, v in sorted(dead.items())) or "none")
                + ". (Each published outbox row and each settled payment leaves dead tuples;"
                " with autovacuum off nothing reclaims them and every scan grows slower.)",
            ]
    return "\n".join(lines) + "\n"


def picture(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = result["windows"]
    minutes = [w["minute"] for w in windows]
    with_cpu = "cpu_pct" in windows[0]
    fig, axes = plt.subplots(
        3 if with_cpu else 2, 1, figsize=(9, 10 if with_cpu else 7), sharex=True
    )
    top, bottom = axes[0], axes[1]
    for name in windows[0]["processes"]:
        top.plot(minutes, [w["processes"][name]["rss_mib"] for w in windows], label=name)
    top.set_ylabel("RSS (MiB, process group)")
    top.legend(fontsize=8, ncol=4)
    bottom.plot(minutes, [w["latency"]["p99_ms"] for w in windows], marker="o", label="p99")
    bottom.plot(minutes, [w["latency"]["p50_ms"] for w in windows], marker=".", label="p50")
    for w in windows:
        if w["killed"]:
            point = (w["minute"], w["latency"]["p99_ms"])
            bottom.annotate(f"kill {w['killed']}", point, fontsize=7)
    bottom.set_ylabel("POST -> e-mail (ms)")
    bottom.legend(fontsize=8)
    if with_cpu:
        for name in windows[0]["cpu_pct"]:
            shares = [w["cpu_pct"].get(name, 0) for w in windows]
            axes[2].plot(minutes, shares, marker="o" if "broker" in name else ".", label=name)
        axes[2].set_ylabel("CPU (% of one core)")
        axes[2].legend(fontsize=8, ncol=4)
    axes[-1].set_xlabel("minutes")
    fig.suptitle(f"Soak: {result['rate']}/s for {result['minutes']} min")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s soak: %(message)s")
    logging.getLogger("kafka").setLevel(logging.ERROR)
    minutes = float(os.environ.get("SOAK_MINUTES", "30"))
    window_s = int(os.environ.get("SOAK_WINDOW_S", "300"))
    rate = int(os.environ.get("SOAK_RATE", "0")) or default_rate()
    kill_every = int(os.environ.get("SOAK_KILL_EVERY", "2"))
    vacuum = os.environ.get("SOAK_VACUUM", "1") != "0"
    burst_s = int(os.environ.get("SOAK_WARMUP_BURST_S", "30"))
    out = Path(os.environ.get("SOAK_OUT", "bench/soak"))
    stack = BenchStack.create(Path(os.environ.get("BENCH_LOG_DIR", ".run/bench")))
    try:
        result = run_soak(stack, minutes, window_s, rate, kill_every, vacuum, burst_s)
    finally:
        stack.close()
    out.mkdir(parents=True, exist_ok=True)
    result["environment"] = {k: v for k, v in os.environ.items() if k.startswith("SOAK_")}
    (out / "soak.json").write_text(json.dumps(result, indent=2, default=str))
    (out / "soak.md").write_text(report(result))
    picture(result, out / "soak.png")
    print(report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
