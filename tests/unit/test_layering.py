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


def _circles(graph: object, modules: set[str]) -> list[list[str]]:
    """The import circles among `modules` (strongly connected components of more than one
    module), by Tarjan's algorithm over the direct imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):  # type: ignore[attr-defined]
            if imported not in modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    """No import circle among the service's modules, imports for type checking aside (a
    circle makes the import order matter and the layers a fiction)."""
    import grimp

    packages = ("payments", "web", "tasks", "outbox", "bridge", "ops", "devstack")
    graph = grimp.build_graph(*packages, exclude_type_checking_imports=True)
    modules = {m for m in graph.modules if m.split(".")[0] in packages}
    assert len(modules) > 50
    assert _circles(graph, modules) == []
