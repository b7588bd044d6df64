"""The fault suite: real processes on private services, killed, paused and restarted.

Run with `make faults` (or `pytest tests/faults`); a plain `pytest` leaves it out unless
RUN_FAULTS=1, as it takes minutes. Each scenario appends its row to the report, printed at
the end of the run and written to `.run/faults.json`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devstack.procs import ROOT
from tests.support.env import SESSION, free_port
from tests.support.faults import Stage, open_stage
from tests.support.private import PrivateServices
from tests.support.tally import Row, StampingSmtp, table

HERE = Path(__file__).resolve().parent
REPORT_FILE = ROOT / ".run" / "faults.json"
_rows: list[Row] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave the fault scenarios out unless they were asked for."""
    asked = os.environ.get("RUN_FAULTS") == "1" or any(
        path == HERE or HERE in path.parents
        for path in (Path(arg.split("::")[0]).resolve() for arg in config.args)
    )
    if asked:
        return
    mine = [item for item in items if HERE in Path(str(item.fspath)).resolve().parents]
    if mine:
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the table and write it to .run/faults.json."""
    if not _rows:
        return
    terminalreporter.section("delivery under faults")
    terminalreporter.write_line(table(_rows))
    REPORT_FILE.parent.mkdir(parents=True, exist_ok=True)
    REPORT_FILE.write_text(json.dumps([r.as_dict() for r in _rows], indent=2) + "\n")
    terminalreporter.write_line(f"written to {REPORT_FILE.relative_to(ROOT)}")


@pytest.fixture(scope="session")
def run_dir() -> Iterator[Path]:
    """Where the private services and the processes keep their files and logs."""
    path = ROOT / ".run" / "faults" / SESSION
    yield path
    shutil.rmtree(path / "pg", ignore_errors=True)


@pytest.fixture(scope="session")
def services(run_dir: Path) -> Iterator[PrivateServices]:
    """Private PostgreSQL, Redis and Kafka: only these are ever paused, stopped or killed."""
    private = PrivateServices(run_dir).start()
    try:
        yield private
    finally:
        private.stop()


@pytest.fixture(scope="session")
def smtp() -> Iterator[StampingSmtp]:
    """A real SMTP server that notes each message's arrival."""
    server = StampingSmtp(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def rng() -> random.Random:
    """Randomness for the chaos, seeded from FAULTS_SEED (else random, and reported)."""
    seed = int(os.environ.get("FAULTS_SEED") or random.randrange(1_000_000))
    print(f"FAULTS_SEED={seed}")
    generator = random.Random(seed)
    generator.seed_value = seed  # type: ignore[attr-defined]
    return generator


@pytest.fixture
def stage_for(
    services: PrivateServices, smtp: StampingSmtp, run_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Stage]]:
    """Open a scenario's stage; its processes are stopped afterwards (log tails on failure)."""
    opened: list[Stage] = []

    def make(name: str, **env: str) -> Stage:
        stage = open_stage(name, services, smtp, run_dir, **env)
        opened.append(stage)
        return stage

    yield make
    for stage in opened:
        stage.close()
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for daemon in stage.processes.values():
                print(f"---- {daemon.label} log (tail) ----")
                print("\n".join(daemon.output().splitlines()[-15:]))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """Keep each phase's report on the item (for `stage_for`)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def report() -> Callable[[Row], None]:
    """Add a scenario's row to the table."""
    return _rows.append
