"""Peak resident memory (VmHWM) of every process in a process group, from /proc."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class ProcMemory:
    """One process: its pid, parent, command line and peak/current RSS in MiB."""

    pid: int
    ppid: int
    cmdline: str
    peak_mib: float
    rss_mib: float


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgrp) of a process, or None if it is gone."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2])


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group(pgid: int) -> list[ProcMemory]:
    """Every live process of the process group `pgid`, with its peak RSS."""
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        stat = _stat(pid)
        if stat is None or stat[1] != pgid:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        found.append(
            ProcMemory(
                pid,
                stat[0],
                cmdline,
                _status_kib(pid, "VmHWM") / 1024,
                _status_kib(pid, "VmRSS") / 1024,
            )
        )
    return sorted(found, key=lambda p: p.pid)
