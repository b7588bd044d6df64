"""The Procfile: the one place that says how each of the service's processes is started.

`make run` (honcho), the tests and the bench all start its lines, so a process is started
the same way everywhere; values such as the API's port are given as shell variables.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path

from honcho.environ import parse_procfile

from devstack.procs import ROOT

PROCFILE = ROOT / "Procfile"
RELEASE = "release"  # run once, before the others (the schema)
APP_PROCESSES = ("api", "worker", "gateway", "relay", "bridge")


def lines(path: Path = PROCFILE) -> dict[str, str]:
    """Every process of the Procfile: name -> its shell line."""
    return dict(parse_procfile(path.read_text()).processes)


def line(name: str, values: Mapping[str, object] | None = None, path: Path = PROCFILE) -> str:
    """The shell line of process `name`, with shell variables set first (PORT=5001 ...)."""
    command = lines(path)[name]
    pairs = (values or {}).items()
    assignments = "".join(f"{key}={shlex.quote(str(value))}; " for key, value in pairs)
    return f"{assignments}exec {command}"


def argv(name: str, values: Mapping[str, object] | None = None, path: Path = PROCFILE) -> list[str]:
    """An argv that runs process `name` (the shell execs it: its pid is the process's)."""
    return ["/bin/sh", "-c", line(name, values, path)]
