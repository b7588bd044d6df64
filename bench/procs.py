"""The service's real processes, started the production way, each in its own process group."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import memory
from bench.settings import BenchSettings
from tests.support.procs import wait_http

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def api_argv(port: int) -> list[str]:
    """Gunicorn with the repository's gunicorn.conf.py (WEB_CONCURRENCY, GUNICORN_THREADS)."""
    return [
        str(BIN / "gunicorn"),
        "web:create_app()",
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "-b",
        f"127.0.0.1:{port}",
    ]


def worker_argv(processes: int, threads: int) -> list[str]:
    """`dramatiq tasks` with the given processes and threads."""
    return [str(BIN / "dramatiq"), "tasks", "-p", str(processes), "-t", str(threads)]


RELAY_ARGV = [str(BIN / "flask"), "outbox", "relay"]


def relay_argv(bench: BenchSettings) -> list[str]:
    """`flask outbox relay` with BENCH_RELAY_ARGS (e.g. `--batch-size 1000`)."""
    return [*RELAY_ARGV, *bench.relay_args]


BRIDGE_ARGV = [str(BIN / "flask"), "bridge", "run"]


class Service:
    """One command, its output in `<log_dir>/<name>.log`; stop() records its peak memory."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name, self.argv, self.env, self.log_dir = name, argv, env, log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.memory: list[memory.ProcMemory] = []
        self._terminated = False

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Service:
        """Start in a new session (its own process group)."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[int]:
        """Pids of the group's processes other than the leader (forked workers)."""
        return [p.pid for p in memory.group(self.pid) if p.pid != self.pid]

    def sample_memory(self) -> list[memory.ProcMemory]:
        """The group's processes with their peak RSS so far (kept for the report)."""
        if self.alive():
            self.memory = memory.group(self.pid)
        return self.memory

    def terminate(self) -> None:
        """Record peak memory and send SIGTERM to the group, without waiting."""
        if self.alive():
            self.sample_memory()
            self._signal(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float = 20) -> int | None:
        """Record peak memory, then SIGTERM the group (SIGKILL after `timeout`)."""
        if self.proc is None:
            return None
        if not self._terminated:
            self.sample_memory()
            self._signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            return self.proc.wait(5)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def wait_ready(service: Service, url: str, timeout: float = 30) -> None:
    """Wait for the HTTP health check; fail with the log's tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not service.alive():
            raise RuntimeError(f"{service.name} exited:\n{service.tail()}")
        try:
            wait_http(url, timeout=1)
            return
        except AssertionError:
            continue
    raise RuntimeError(f"{service.name} not ready in {timeout}s:\n{service.tail()}")
