"""A malformed setting stops each entry point with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.procs import ROOT

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["flask", "outbox", "relay"],
        ["flask", "bridge", "run"],
        ["flask", "db", "init"],
    ],
)
def test_bad_setting_is_one_line_without_traceback(command: list[str]) -> None:
    env = {**os.environ, "MAIL_PORT": "not-a-port", "FLASK_APP": "web:create_app"}
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["configuration error: MAIL_PORT: Not a valid integer, got 'not-a-port'"]
