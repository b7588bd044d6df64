"""Start and stop the service's real processes (API, relay, bridge, worker) for tests: the
Procfile's lines, as `make run` starts them (devstack.procfile)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import requests

from devstack import procfile
from devstack.procs import ROOT, ServiceProcess

T = TypeVar("T")
BIN = Path(sys.executable).parent  # the venv's commands (flask, dramatiq)
__all__ = ["BIN", "ROOT", "Process", "wait_http", "wait_until"]


class Process(ServiceProcess):
    """The Procfile's process `name` (`api` listens on `port`), its output in
    `<log_dir>/<name>.log`."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, port: int = 0):
        values = {"PORT": port} if port else {}
        super().__init__(name, procfile.argv(name, values), env, log_dir)
        self.name, self.port = name, port


def wait_http(url: str, timeout: float = 30) -> None:
    """Wait until `url` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout}s")


def wait_until(
    predicate: Callable[[], T], timeout: float = 30, interval: float = 0.1, message: str = ""
) -> T:
    """Poll `predicate` until it returns a truthy value; return it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message or f"condition not met within {timeout}s")
