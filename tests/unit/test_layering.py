"""The edges stay untangled: the API builds no worker parts, and no process package imports
another (the import-linter contracts in pyproject.toml, as `make lint` runs them)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.procs import ROOT

PROBE = """
import json, sys
import dramatiq.broker
from payments.config import Settings
from web import create_app
app = create_app({"SETTINGS": Settings()})
print(json.dumps({
    "broker": dramatiq.broker.global_broker is not None,
    "process_modules": sorted(
        m for m in sys.modules if m.split(".")[0] in {"tasks", "outbox", "bridge", "ops"}
    ),
    "commands": sorted(app.cli.commands),
}))
"""


def test_create_app_sets_no_dramatiq_broker_and_imports_no_other_process_package() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found == {"broker": False, "process_modules": [], "commands": []}


def test_the_flask_command_groups_are_entry_points() -> None:
    from importlib.metadata import entry_points

    ours = {"db", "outbox", "bridge", "payments", "dlq"}
    groups = {ep.name: ep.value for ep in entry_points(group="flask.commands")}
    assert ours <= set(groups)
    for name in ours:
        module = groups[name].split(":")[0]
        assert module.split(".")[0] in {"web", "outbox", "bridge", "ops"}, (name, groups[name])


def test_the_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a dev dependency"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "0 broken" in result.stdout
