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
from typing import IO


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


def stop_all(children: Sequence[Child], signum: int | None = None, timeout: float = 20.0) -> None:
    """Signal every child at once (`signum` or its own stop signal), wait, then kill leftovers."""
    for child in children:
        if child.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum if signum is not None else child.stop_signal)
    wait_until(lambda: not any(child.alive() for child in children), timeout, 0.1)
    for child in children:
        if child.alive():
            log(f"{child.name} (pid {child.pid}) did not stop in {timeout:.0f}s; killing it")
        child.kill()
        if child.popen is not None:
            code = child.popen.returncode
            how = f"by {signal.Signals(-code).name}" if code < 0 else f"with exit code {code}"
            log(f"{child.name} stopped {how}")


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
