"""Pictures of a bench run: POST -> e-mail latency against offered load, and CPU per payment
by process. `make bench` draws them beside results.md; `python -m bench.charts [DIR]` draws
them again from DIR/results.json (default bench/)."""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")
HERE = Path(__file__).resolve().parent
LATENCY_PNG = "latency.png"
CPU_PNG = "cpu.png"
PERCENTILES = (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))
PROCESS_ORDER = ("api", "relay", "bridge", "worker", "postgres", "redis", "kafka broker", "smtp")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no screen
    import matplotlib.pyplot as plt

    return plt


def _finite(value: Any) -> float | None:
    return float(value) if value is not None and math.isfinite(float(value)) else None


def latency_chart(steps: list[dict[str, Any]], path: Path) -> Path:
    """POST -> e-mail percentiles (log scale) and the settled rate, by offered rate."""
    plt = _pyplot()
    steps = sorted(steps, key=lambda s: s["rate"])
    rates = [s["rate"] for s in steps]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in PERCENTILES:
        points = [(r, _finite(s["latency"].get(key))) for r, s in zip(rates, steps, strict=True)]
        shown = [(r, v) for r, v in points if v is not None]
        if shown:
            left.plot(*zip(*shown, strict=True), marker="o", label=label)
    left.set_yscale("log")
    left.set_xlabel("offered payments/s")
    left.set_ylabel("POST -> e-mail, ms (log)")
    left.set_title("Latency against offered load")
    left.axhline(500, color="grey", linestyle=":", linewidth=1, label="500 ms")
    left.legend()
    left.grid(True, which="both", alpha=0.3)
    right.plot(rates, rates, color="grey", linestyle=":", label="offered")
    right.plot(rates, [s["settled_per_s"] for s in steps], marker="o", label="settled")
    right.set_xlabel("offered payments/s")
    right.set_ylabel("payments/s")
    right.set_title("Settled rate (POST to e-mail)")
    right.legend()
    right.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def cpu_chart(steps: list[dict[str, Any]], path: Path) -> Path:
    """Stacked CPU milliseconds per settled payment, by process, at each offered rate."""
    plt = _pyplot()
    steps = sorted(steps, key=lambda s: s["rate"])
    found = {k for s in steps for k in s["cpu_ms_per_payment"]} - {"total"}
    names = [n for n in PROCESS_ORDER if n in found] + sorted(found - set(PROCESS_ORDER))
    labels = [f"{s['rate']}/s" for s in steps]
    fig, axis = plt.subplots(figsize=(9, 4.2))
    bottom = [0.0] * len(steps)
    for name in names:
        values = [float(s["cpu_ms_per_payment"].get(name, 0)) for s in steps]
        axis.bar(labels, values, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    for x, total in enumerate(bottom):
        axis.annotate(f"{total:.1f}", (x, total), ha="center", va="bottom", fontsize=8)
    axis.set_xlabel("offered load")
    axis.set_ylabel("CPU ms per settled payment")
    axis.set_title("CPU per payment, by process")
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axis.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def draw(results: dict[str, Any], directory: Path) -> list[Path]:
    """The run's pictures in `directory` (none without an e2e phase, or without matplotlib,
    which the bench extra installs)."""
    steps = results.get("e2e", {}).get("steps") or []
    if not steps:
        return []
    try:
        _pyplot()
    except ImportError:
        log.warning("no matplotlib (pip install -e '.[bench]'): bench pictures not drawn")
        return []
    return [
        latency_chart(steps, directory / LATENCY_PNG),
        cpu_chart(steps, directory / CPU_PNG),
    ]


def main(argv: list[str]) -> int:
    """Draw the pictures of DIR/results.json."""
    directory = Path(argv[0]) if argv else HERE
    results = json.loads((directory / "results.json").read_text())
    for path in draw(results, directory):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
