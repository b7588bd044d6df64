"""Running commands under the stack: `run -- CMD` and `serve` (the four app processes)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType

from devstack.procs import Child, log, spawn, stop_all

INT_GRACE = 10.0


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives, so started services get stopped."""


def raise_on_sigterm() -> None:
    """Turn SIGTERM into the `Terminated` exception (until other handlers are installed)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, handler)


def run_command(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run argv in its own process group and return its exit code.

    SIGINT and SIGTERM sent to us are forwarded to the whole group; a group that ignores
    them gets SIGTERM, then SIGKILL, after `INT_GRACE` seconds each.
    """
    try:
        proc = subprocess.Popen(list(argv), env=dict(env), process_group=0)
    except OSError as exc:
        log(f"cannot run {argv[0]}: {exc.strerror}")
        return 127
    signalled: list[float] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        signalled.append(time.monotonic())
        _signal_group(proc.pid, signum)

    old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    escalation = [signal.SIGTERM, signal.SIGKILL]
    try:
        while True:
            try:
                code = proc.wait(timeout=0.5)
                _signal_group(proc.pid, signal.SIGKILL)  # leftovers of a shell pipeline
                return code
            except subprocess.TimeoutExpired:
                if signalled and escalation and time.monotonic() - signalled[-1] > INT_GRACE:
                    signalled.append(time.monotonic())
                    _signal_group(proc.pid, escalation.pop(0))
    finally:
        for signum, handler in old.items():
            signal.signal(signum, handler)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def app_commands(port: str) -> dict[str, list[str]]:
    """The four app processes of `make run`, by name."""
    return {
        "api": ["flask", "run", "--host", "127.0.0.1", "--port", port],
        "relay": ["flask", "outbox", "relay"],
        "bridge": ["flask", "bridge", "run"],
        "worker": ["dramatiq", "tasks", "--processes", "1", "--threads", "8"],
    }


def serve(commands: Mapping[str, Sequence[str]], env: Mapping[str, str]) -> int:
    """Start every command, prefixing its output; stop all when one dies or on a signal.

    Returns 0 after a requested stop, 1 when a process died on its own.
    """
    stop = threading.Event()
    reason: list[str] = []

    def request_stop(signum: int, frame: FrameType | None) -> None:
        reason.append(signal.Signals(signum).name)
        stop.set()

    old = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    children: list[Child] = []
    try:
        for name, argv in commands.items():
            try:
                children.append(spawn(name, argv, env=env))
            except OSError as exc:
                log(f"cannot start {name} ({argv[0]}): {exc.strerror}")
                return 1
            log(f"started {name} (pid {children[-1].pid}): {' '.join(argv)}")
        while not stop.wait(0.3):
            dead = [child for child in children if not child.alive()]
            if dead:
                log(f"{dead[0].name} {_exit_text(dead[0])}; stopping everything")
                return 1
        log(f"received {reason[0]}; stopping")
        return 0
    finally:
        stop_all(list(reversed(children)), signal.SIGTERM)
        for signum, handler in old.items():
            signal.signal(signum, handler)


def _exit_text(child: Child) -> str:
    code = child.popen.returncode if child.popen else None
    if code is not None and code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"
