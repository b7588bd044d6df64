"""Sampling profiles of the running processes with py-spy (`pip install -e '.[bench]'`).

`Profile.start(pid)` records in the background while a phase runs; `finish()` writes the
collapsed stacks and a summary of where the samples fall (self time per function, and time
under each of the service's own functions).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
OWN_CODE = ("payments/", "web/", "outbox/", "tasks/")


def available() -> bool:
    """Whether py-spy is installed."""
    return PY_SPY is not None


class Profile:
    """One py-spy recording of a process and its forked children."""

    def __init__(self, name: str, pid: int, seconds: int, out_dir: Path):
        self.name, self.out = name, out_dir / f"profile-{name}.txt"
        self.proc = subprocess.Popen(
            [str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--nonblocking", "--gil",
             "-d", str(seconds), "-r", "50", "-f", "raw", "-o", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def finish(self, top: int = 12) -> dict[str, object]:
        """Wait for the recording; the summary (also written next to it as `.summary.txt`)."""
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if not self.out.exists():
            return {"samples": 0}
        summary = summarize(self.out.read_text(errors="replace"), top)
        lines = [f"{self.name}: {summary['samples']} samples"]
        for title in ("libraries", "self", "own_inclusive"):
            lines.append(f"-- {title} --")
            lines += [f"{pct:5.1f}%  {frame}" for frame, pct in summary[title]]  # type: ignore[attr-defined]
        self.out.with_suffix(".summary.txt").write_text("\n".join(lines) + "\n")
        return summary


def _short(frame: str) -> str:
    """`func (path/to/file.py:12)` -> `func (file.py)` with the service's own paths kept."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in OWN_CODE:
        if marker in path:
            return f"{name} ({path[path.index(marker) :]})"
    return f"{name} ({Path(path).name})" if path else name


def library(frame: str) -> str:
    """Which package a raw py-spy frame `func (path:line)` belongs to (`sqlalchemy`, `email`,
    `threading`...), or `service <package>` for this repository's code."""
    path = frame.partition(" (")[2].rstrip(")").rsplit(":", 1)[0]
    for marker in OWN_CODE:
        if path.startswith(marker) or f"/{marker}" in path:
            return f"service {marker.rstrip('/')}"
    if "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    return path.split("/", 1)[0].removesuffix(".py") or "other"


def summarize(collapsed: str, top: int = 12) -> dict[str, object]:
    """Self-time per frame, per library, and inclusive time per own-code frame, in % of
    samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    libraries: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = [f for f in stack.split(";") if "(" in f and not f.startswith("process ")]
        frames = [_short(f) for f in raw]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        libraries[library(raw[-1])] += count
        for frame in set(frames):
            if any(marker in frame for marker in OWN_CODE):
                inclusive[frame] += count

    def pct(counter: Counter) -> list[tuple[str, float]]:
        return [(f, round(100 * n / total, 1)) for f, n in counter.most_common(top)]

    return {
        "samples": total,
        "self": pct(own),
        "libraries": pct(libraries),
        "own_inclusive": pct(inclusive),
    }
