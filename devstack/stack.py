"""`ensure`: use each configured service when it answers, else start an embedded one."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack import embedded, postgres, probe, settings
from devstack.procs import Child, free_port, log, port_is_free
from devstack.registry import Registry
from devstack.settings import HostPort, first_bootstrap, mail_address, redact, url_address
from devstack.topics import ensure_topics
from payments.config import TOPIC_VARIABLES

RUN_DIR = Path(".run")
STACK_ENV = RUN_DIR / "stack.env"


@dataclass
class Stack:
    """The effective settings and the services this command started."""

    values: dict[str, str]
    started: list[Child] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the services this command started, newest first."""
        while self.started:
            child = self.started.pop()
            log(f"stopping embedded {child.name}")
            child.stop()


def choose_address(configured: HostPort) -> HostPort:
    """The configured address when it is local and free, else a free local port."""
    if configured.is_local and port_is_free("127.0.0.1", configured.port):
        return HostPort("127.0.0.1", configured.port)
    return HostPort("127.0.0.1", free_port())


def resolve(
    name: str,
    candidates: list[str],
    answers: Callable[[str], bool],
    start: Callable[[], tuple[Child, str]],
    stack: Stack,
) -> str:
    """The first candidate value whose service answers, else start one and return its value."""
    for value in dict.fromkeys(candidates):
        if answers(value):
            log(f"{name}: using {redact(value)}")
            return value
    child, value = start()
    child.meta = {"key": name, "configured": candidates[0], "effective": value}
    stack.started.append(child)
    log(f"{name}: started embedded {child.name} (pid {child.pid}) at {redact(value)}")
    return value


def ensure(
    environ: Mapping[str, str], keep: bool, log_files: bool = True, run_dir: Path = RUN_DIR
) -> Stack:
    """Make every service answer; returns the effective settings and what was started.

    With `keep`, started services outlive this process (recorded for `devstack stop`).
    """
    config = settings.load(environ, settings.read_dotenv(Path(".env")))
    registry = Registry(run_dir / "pids")
    stack = Stack(dict(config))
    try:
        _ensure_all(stack, config, registry, embedded.Launch(run_dir, log_files))
    except BaseException:
        stack.stop()
        raise
    if keep:
        for child in stack.started:
            registry.add(child)
    settings.write_env(run_dir / "stack.env", {k: stack.values[k] for k in settings.STACK_KEYS})
    return stack


def _ensure_all(
    stack: Stack, config: Mapping[str, str], registry: Registry, launch: embedded.Launch
) -> None:
    """Resolve each service in turn (reusing ones a previous `ensure` left running), then topics."""
    values = stack.values

    def start_postgres() -> tuple[Child, str]:
        address = choose_address(url_address(config["DATABASE_URL"], 5432, "DATABASE_URL"))
        url = settings.with_address(config["DATABASE_URL"], address)
        return postgres.start_postgres(address, url, launch), url

    def start_redis() -> tuple[Child, str]:
        address = choose_address(url_address(config["REDIS_URL"], 6379, "REDIS_URL"))
        url = settings.with_address(config["REDIS_URL"], address)
        return embedded.start_redis(address, launch), url

    def start_kafka() -> tuple[Child, str]:
        address = choose_address(first_bootstrap(config["KAFKA_BOOTSTRAP_SERVERS"]))
        return embedded.start_kafka(address, launch), f"{address.host}:{address.port}"

    def start_smtp() -> tuple[Child, str]:
        address = choose_address(mail_address(config))
        return embedded.start_smtp(address, launch), f"{address.host}:{address.port}"

    def start_simulator() -> tuple[Child, str]:
        address = choose_address(url_address(config["GATEWAY_URL"], 80, "GATEWAY_URL"))
        child = embedded.start_simulator(address, launch, dict(config))
        return child, f"http://{address.host}:{address.port}"

    def kafka_ok(servers: str) -> bool:
        return probe.kafka_answers(servers, first_bootstrap(servers))

    def smtp_ok(value: str) -> bool:
        host, port = value.rsplit(":", 1)
        return probe.smtp_answers(mail_address({"MAIL_SERVER": host, "MAIL_PORT": port}))

    for key, answers, start in (
        ("DATABASE_URL", probe.postgres_answers, start_postgres),
        ("REDIS_URL", probe.redis_answers, start_redis),
        ("KAFKA_BOOTSTRAP_SERVERS", kafka_ok, start_kafka),
    ):
        found = [config[key], registry.effective(key, config[key]) or config[key]]
        values[key] = resolve(key, found, answers, start, stack)
    mail = f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    found = [mail, registry.effective("MAIL_SERVER", mail) or mail]
    smtp = resolve("MAIL_SERVER", found, smtp_ok, start_smtp, stack)
    values["MAIL_SERVER"], values["MAIL_PORT"] = smtp.rsplit(":", 1)
    if config.get("GATEWAY", "simulator").strip().lower() == "simulator":
        url = config["GATEWAY_URL"]
        found = [url, registry.effective("GATEWAY_URL", url) or url]
        values["GATEWAY_URL"] = resolve(
            "GATEWAY_URL", found, probe.simulator_answers, start_simulator, stack
        )
    topics = [values[name] for name in TOPIC_VARIABLES]
    created = ensure_topics(values["KAFKA_BOOTSTRAP_SERVERS"], topics)
    log(f"kafka topics: created {', '.join(created)}" if created else "kafka topics: all present")


def child_env(values: Mapping[str, str]) -> dict[str, str]:
    """Our environment plus the effective settings, with the venv's bin first on PATH."""
    env = {**os.environ, **values, "PYTHONUNBUFFERED": "1"}
    venv_bin = str(Path(sys.prefix) / "bin")
    if sys.prefix != sys.base_prefix and not env.get("PATH", "").startswith(venv_bin):
        env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    return env
