"""Running commands under the stack: `run -- CMD`, and `serve` (the Procfile's processes)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from types import FrameType

from devstack import procfile
from devstack.procs import log

INT_GRACE = 10.0
# A process asked to stop gets this long before it is killed (a bridge may need 8 s to
# finish joining its group, see bridge.consumer.JOIN_GRACE_S).
STOP_GRACE_S = 20
STOPPED_BY_SIGNAL = (130, 143)  # honcho's exit codes after SIGINT and SIGTERM


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


def serve(commands: Mapping[str, str], env: Mapping[str, str]) -> int:
    """Run every command (shell lines, by name) under honcho, each line of output prefixed
    with its name; when one exits, or on Ctrl-C / SIGTERM, stop them all (SIGTERM, then
    SIGKILL after `STOP_GRACE_S`). Returns 0 after a requested stop, else the exit code of
    the process that ended first."""
    from honcho import manager
    from honcho.printer import Printer

    manager.KILL_WAIT = STOP_GRACE_S  # honcho's own is 5 s: shorter than a bridge's join grace
    runner = manager.Manager(Printer(sys.stdout, colour=sys.stdout.isatty()))
    for name, command in commands.items():
        runner.add_process(name, command, env=dict(env), cwd=str(procfile.ROOT))
    runner.loop()
    code = int(runner.returncode or 0)
    return 0 if code in STOPPED_BY_SIGNAL else code  # Ctrl-C or SIGTERM: a requested stop
