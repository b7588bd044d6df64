"""The bench's report: its pictures are drawn from the results and linked from results.md."""

from __future__ import annotations

import json
from pathlib import Path

from bench import charts, cpu, report
from devstack.procs import ROOT

PNG = b"\x89PNG\r\n\x1a\n"


def test_pictures_are_drawn_and_linked(tmp_path: Path) -> None:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    steps = results["e2e"]["steps"]
    steps[-1]["latency"]["p99_ms"] = float("inf")  # an unfinished percentile is left out
    text = report.write(results, tmp_path)
    for name in (charts.LATENCY_PNG, charts.CPU_PNG):
        picture = tmp_path / name
        assert picture.read_bytes()[:8] == PNG
        assert picture.stat().st_size > 10_000  # axes, bars and lines, not an empty canvas
        assert f"]({name})" in text
    assert (tmp_path / "results.md").read_text() == text


def test_no_e2e_phase_no_pictures(tmp_path: Path) -> None:
    assert charts.draw({"api": {}}, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


def test_the_runs_cpu_steal_is_reported(tmp_path: Path) -> None:
    before = [100, 0, 50, 800, 0, 0, 0, 50]
    after = [300, 0, 100, 900, 0, 0, 0, 150]  # 450 ticks spent, 100 of them stolen
    assert cpu.steal_percent(before, after) == 22.2
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    results["meta"]["steal_percent"] = 22.2
    assert "CPU steal over the run 22.2%" in report.write(results, tmp_path)
