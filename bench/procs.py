"""The service's real processes, started from the Procfile as `make run` starts them, each in
its own process group, with their peak memory recorded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench import rss
from bench.settings import BenchSettings
from devstack import procfile
from devstack.procs import ServiceProcess, answers_http


def api_argv(port: int) -> list[str]:
    """The Procfile's API: gunicorn with gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_THREADS)."""
    return procfile.argv("api", {"PORT": port})


def worker_argv(processes: int, threads: int) -> list[str]:
    """The Procfile's worker pool (`dramatiq tasks`) with the given processes and threads."""
    return procfile.argv("worker", {"WORKER_PROCESSES": processes, "WORKER_THREADS": threads})


def gateway_argv(processes: int, threads: int) -> list[str]:
    """The Procfile's gateway pool with the given processes and threads."""
    return procfile.argv("gateway", {"GATEWAY_PROCESSES": processes, "GATEWAY_THREADS": threads})


def relay_argv(bench: BenchSettings) -> list[str]:
    """The Procfile's relay with BENCH_RELAY_ARGS (e.g. `--batch-size 1000`)."""
    return procfile.argv("relay", {"RELAY_ARGS": " ".join(bench.relay_args)})


BRIDGE_ARGV = procfile.argv("bridge")
# The gateway simulator (a dev/test component, not a Procfile process), at GATEWAY_URL.
SIMULATOR_ARGV = [str(Path(sys.executable).parent / "flask"), "gateway", "simulator"]


class Service(ServiceProcess):
    """One command, its output in `<log_dir>/<name>.log`; stop() records its peak memory."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        super().__init__(name, argv, env, log_dir)
        self.name = name
        self.memory: list[rss.ProcMemory] = []

    def children(self) -> list[int]:
        """Pids of the group's processes other than the leader (forked workers)."""
        return [p.pid for p in rss.group(self.pid) if p.pid != self.pid]

    def sample_memory(self) -> list[rss.ProcMemory]:
        """The group's processes with their peak RSS so far (kept for the report)."""
        if self.alive():
            self.memory = rss.group(self.pid)
        return self.memory

    def terminate(self) -> None:
        """Record peak memory and send SIGTERM to the group, without waiting."""
        self.sample_memory()
        super().terminate()

    def stop(self, timeout: float = 20) -> int | None:
        """Record peak memory, then SIGTERM the group (SIGKILL after `timeout`)."""
        if not self._terminated:
            self.sample_memory()
        return super().stop(timeout)


def wait_ready(service: Service, url: str, timeout: float = 30) -> None:
    """Wait for the HTTP health check; fail with the log's tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
        if answers_http(url):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{service.name} not ready in {timeout}s:\n{service.tail()}")
