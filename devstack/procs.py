"""Starting and stopping child processes, each in its own process group."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

ROOT = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    """Print one devstack log line to stderr."""
    print(f"[devstack] {message}", file=sys.stderr, flush=True)


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port (so we may bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """An unused TCP port chosen by the kernel."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers_http(url: str, timeout: float = 1.0) -> bool:
    """Whether `url` answers 200 right now."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (loopback)
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Call `check` until it returns True or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (and is not a zombie of ours)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Child:
    """A process we started: its name, pid (= process group id) and how to stop it."""

    name: str
    pid: int
    stop_signal: int = signal.SIGTERM
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    meta: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        """Whether the process still runs."""
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def stop(self, timeout: float = 15.0) -> None:
        """Send the stop signal to the leader, wait up to `timeout`, then kill the group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, self.stop_signal)
            if not wait_until(lambda: not self.alive(), timeout, 0.1):
                log(f"{self.name} (pid {self.pid}) did not stop in {timeout:.0f}s; killing it")
        self.kill()

    def kill(self) -> None:
        """SIGKILL whatever is left of the process group and reap the leader."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()

    def to_json(self) -> str:
        """The record kept in `.run/pids/` for `python -m devstack stop`."""
        record = {"name": self.name, "pid": self.pid, "signal": int(self.stop_signal)}
        return json.dumps({**record, **self.meta})


def pump(stream: IO[bytes], prefix: str, out: IO[str]) -> threading.Thread:
    """Copy `stream` to `out` line by line, each line prefixed (in a daemon thread)."""

    def run() -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            out.write(f"{prefix} {line}\n")
            out.flush()
        stream.close()

    thread = threading.Thread(target=run, name=f"pump-{prefix}", daemon=True)
    thread.start()
    return thread


def spawn(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    log_file: Path | None = None,
    stop_signal: int = signal.SIGTERM,
    user: str | None = None,
    cwd: Path | None = None,
) -> Child:
    """Start `argv` in a new session; output goes to `log_file` or, prefixed, to stdout."""
    out: int | IO[bytes] = subprocess.PIPE
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        out = log_file.open("ab")
    popen = subprocess.Popen(
        list(argv),
        env=dict(env) if env is not None else None,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        user=user,
        cwd=cwd,
    )
    if log_file is None:
        assert popen.stdout is not None
        pump(popen.stdout, f"{name:>7} |", sys.stdout)
    else:
        assert not isinstance(out, int)
        out.close()
    return Child(name, popen.pid, stop_signal, popen)


def with_bin_on_path(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with this interpreter's bin directory (the venv's: flask, gunicorn, dramatiq)
    first on PATH, so that Procfile lines find the service's commands."""
    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", os.defpath)
    return {**env, "PATH": path if path.startswith(bin_dir) else f"{bin_dir}{os.pathsep}{path}"}


class ServiceProcess:
    """One process of the service (a Procfile line, or any argv), in its own session (so its
    forked workers form one group), its output appended to `<log_dir>/<label>.log`."""

    def __init__(self, label: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path):
        self.label, self.argv, self.env, self.log_dir = label, list(argv), dict(env), log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._terminated = False

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.label}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Self:
        """Start (again), from the repository's root."""
        self.starts += 1
        self._terminated = False
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=with_bin_on_path(self.env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        """Whether the leader still runs."""
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (dramatiq and gunicorn fork their workers)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)

    def terminate(self) -> None:
        """SIGTERM the group without waiting (`stop` then only waits)."""
        if self.alive():
            self.kill(signal.SIGTERM)
            self._terminated = True

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM the group (once), then SIGKILL after `timeout`; the exit code."""
        if self.proc is None:
            return None
        if not self._terminated:
            self.kill(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            return self.proc.wait(5)

    def output(self) -> str:
        """Everything it logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 15) -> str:
        """The last lines of its log."""
        return "\n".join(self.output().splitlines()[-lines:])
