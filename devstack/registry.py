"""Pid records of services left running by `ensure`, under `.run/pids/`."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.procs import Child, pid_alive


class Registry:
    """Pid records of detached services under `.run/pids/`, for `devstack stop`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def add(self, child: Child) -> None:
        """Record a service that outlives this command."""
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{child.name}.json").write_text(child.to_json())

    def effective(self, key: str, configured: str) -> str | None:
        """The value of a running recorded service started for this configured value."""
        for path in sorted(self.directory.glob("*.json")):
            record = json.loads(path.read_text())
            if record.get("key") == key and record.get("configured") == configured:
                return str(record["effective"]) if pid_alive(record["pid"]) else None
        return None

    def stop_all(self) -> list[str]:
        """Stop every recorded service; returns their names."""
        names = []
        for path in sorted(self.directory.glob("*.json")):
            record = json.loads(path.read_text())
            Child(record["name"], record["pid"], record["signal"]).stop()
            path.unlink()
            names.append(record["name"])
        return names
