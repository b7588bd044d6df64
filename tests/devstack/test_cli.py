"""devstack's command line, supervision helpers and process bookkeeping, without services."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack import procfile, procs, stack, supervise
from devstack.__main__ import parse_args
from devstack.registry import Registry
from devstack.settings import HostPort


def test_run_takes_everything_after_the_double_dash() -> None:
    args = parse_args(["run", "--", "sh", "-c", "pytest -x"])
    assert args.command == "run"
    assert args.cmd == ["sh", "-c", "pytest -x"]


def test_run_without_a_command_is_an_error() -> None:
    with pytest.raises(SystemExit):
        parse_args(["run", "--"])


def test_the_procfile_names_the_processes_as_the_contract_starts_them() -> None:
    lines = procfile.lines()
    assert list(lines) == ["release", "api", "worker", "gateway", "relay", "bridge"]
    assert lines["release"] == "flask db init"
    assert lines["api"].startswith("gunicorn 'web:create_app()'")
    assert lines["worker"].startswith("dramatiq tasks --queues payments email ")
    assert lines["gateway"].startswith("env WORKER_METRICS_PORT=${GATEWAY_METRICS_PORT:-0} ")
    assert "dramatiq tasks --queues gateway " in lines["gateway"]  # a pool of its own
    assert lines["relay"].startswith("flask outbox relay")
    assert lines["bridge"] == "flask bridge run"
    assert set(procfile.APP_PROCESSES) == set(lines) - {procfile.RELEASE}


def test_a_procfile_line_runs_with_its_values_as_the_process_itself(tmp_path: Path) -> None:
    file = tmp_path / "Procfile"
    file.write_text("echo: echo port=${PORT:-none} pid=$$\n")
    argv = procfile.argv("echo", {"PORT": "5001"}, path=file)
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert done.stdout.startswith("port=5001 pid=")
    unset = subprocess.run(procfile.argv("echo", path=file), capture_output=True, text=True)
    assert unset.stdout.startswith("port=none")


def test_choose_address_keeps_a_free_local_port_else_picks_one() -> None:
    port = procs.free_port()
    assert stack.choose_address(HostPort("localhost", port)) == HostPort("127.0.0.1", port)
    assert stack.choose_address(HostPort("kafka", 9092)).host == "127.0.0.1"


def test_run_command_returns_the_exit_code() -> None:
    code = supervise.run_command([sys.executable, "-c", "raise SystemExit(7)"], {})
    assert code == 7
    assert supervise.run_command(["/nonexistent/program"], {}) == 127


def test_serve_stops_everything_when_one_process_dies(capfd: pytest.CaptureFixture[str]) -> None:
    commands = {
        "short": f"{sys.executable} -c \"print('bye'); raise SystemExit(3)\"",
        "long": f"{sys.executable} -c 'import time; time.sleep(60)'",
    }
    started = time.monotonic()
    assert supervise.serve(commands, {"PATH": "/usr/bin:/bin"}) == 3
    assert time.monotonic() - started < 30  # `long` was stopped, not waited for
    out = capfd.readouterr().out
    assert "short  | bye" in out  # padded to the widest name (`system`)
    assert "sending SIGTERM to long" in out


def test_registry_records_and_stops_detached_children(tmp_path: Path) -> None:
    child = procs.spawn("sleeper", ["sleep", "60"], log_file=tmp_path / "sleeper.log")
    child.meta = {"key": "REDIS_URL", "configured": "redis://x", "effective": "redis://y"}
    registry = Registry(tmp_path / "pids")
    registry.add(child)
    assert registry.effective("REDIS_URL", "redis://x") == "redis://y"
    assert registry.effective("REDIS_URL", "redis://other") is None
    child.popen = None  # as a later `devstack stop` would see it
    assert registry.stop_all() == ["sleeper"]
    assert not list((tmp_path / "pids").iterdir())
    assert not procs.pid_alive(child.pid)


def test_child_stop_uses_its_stop_signal(tmp_path: Path) -> None:
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, lambda *a: sys.exit(3))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)"
    )
    log = tmp_path / "int.log"
    child = procs.spawn("int", [sys.executable, "-c", script], log_file=log)
    child.stop_signal = signal.SIGINT
    assert procs.wait_until(lambda: log.exists() and "ready" in log.read_text(), 10)
    child.stop(timeout=5)
    assert child.popen is not None and child.popen.returncode == 3
