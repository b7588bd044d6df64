"""The fault-suite harness: a stage of real processes on private services, and its chaos.

A `Stage` is one scenario's world: its own database on the private PostgreSQL, its own
Dramatiq namespace on the private Redis, its own topics and consumer group on the private
Kafka, the shared (in-process) SMTP server, and the real API, relay, bridge and worker
processes, which it can SIGKILL and restart while it records when it did.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from sqlalchemy import Engine, text

from devstack import procfile
from payments import config
from payments.db.engine import make_engine
from payments.db.migrations import migrate
from tests.support import keys
from tests.support.env import free_port
from tests.support.kafka import ensure_topics
from tests.support.keys import Keys
from tests.support.load import Load
from tests.support.private import PrivateServices
from tests.support.procs import Process, wait_http
from tests.support.simulator import Simulator
from tests.support.tally import Row, StampingSmtp, status_summary, tally

SETTLE_TIMEOUT_S = 150.0


class Daemon(Process):
    """A service process whose log file carries its own label (two bridges, for example)."""

    def __init__(self, command: str, label: str, env: dict[str, str], log_dir: Path, port: int = 0):
        super().__init__(command, env, log_dir, port)
        self.label = label


@dataclass
class Stage:
    """One scenario's services, settings and processes."""

    name: str
    services: PrivateServices
    smtp: StampingSmtp
    env: dict[str, str]
    engine: Engine
    log_dir: Path
    api_port: int
    keys: Keys
    gateway: Simulator  # the scenario's own: its counts are the gateway's view of it
    processes: dict[str, Daemon] = field(default_factory=dict)
    kills: list[tuple[float, str]] = field(default_factory=list)  # (wall time, label)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def settings(self) -> config.Settings:
        return config.from_env(self.env)

    def load(self, count: int, seconds: float, tag: str) -> Load:
        """`count` payments over `seconds`, posted with the front end's key."""
        return Load(self.base_url, count, seconds, tag, auth=self.keys.front())

    def start(self, label: str, command: str | None = None, **env: str) -> Daemon:
        """Start (or restart) a process: `api`, `relay`, `bridge`, `worker` or a labelled one."""
        daemon = self.processes.get(label)
        if daemon is None:
            port = self.api_port if label == "api" else 0
            daemon = Daemon(command or label, label, {**self.env, **env}, self.log_dir, port)
            self.processes[label] = daemon
        daemon.start()
        return daemon

    def start_all(self) -> None:
        """The gateway simulator, then every process of the Procfile; returns once the API
        answers."""
        if not self.gateway.alive():
            self.gateway.start()
        for label in procfile.APP_PROCESSES:
            self.start(label)
        wait_http(f"{self.base_url}/healthz", timeout=60)

    def kill(self, label: str) -> None:
        """SIGKILL a process (its whole group) and note when."""
        self.kills.append((time.time(), label))
        self.processes[label].kill(signal.SIGKILL)
        assert self.processes[label].proc is not None
        self.processes[label].proc.wait(10)  # type: ignore[union-attr]

    def chaos(
        self, victims: tuple[str, ...], within_s: float, rng: random.Random, first_s: float = 2.0
    ) -> None:
        """Each victim SIGKILLed twice and two more picked at random, at random moments
        between `first_s` and `within_s` from now, each restarted 0.2-2 s later."""
        started = time.monotonic()
        chosen = [*victims, *victims, *rng.sample(victims, 2)]
        rng.shuffle(chosen)
        moments = sorted(rng.uniform(first_s, within_s) for _ in chosen)
        for moment, victim in zip(moments, chosen, strict=True):
            time.sleep(max(0.0, started + moment - time.monotonic()))
            self.kill(victim)
            time.sleep(rng.uniform(0.2, 2.0))
            self.start(victim)

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM every process (SIGKILL after a while); their exit codes."""
        codes: dict[str, int | None] = {}
        for label, daemon in self.processes.items():
            with contextlib.suppress(Exception):
                codes[label] = daemon.stop(timeout=10)
        with contextlib.suppress(Exception):
            self.gateway.stop(timeout=10)
        return codes

    def redis_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.env["REDIS_URL"], socket_timeout=5)

    def queued_messages(self) -> int:
        """Dramatiq messages queued, delayed or in flight in this stage's namespace."""
        client = self.redis_client()
        try:
            keys = client.keys(f"{self.env['DRAMATIQ_NAMESPACE']}:*.msgs")
            return sum(client.hlen(k) for k in keys if not k.endswith(b".XQ.msgs"))
        finally:
            client.close()

    def dead_letters(self) -> int:
        """Dramatiq messages dead-lettered in this stage's namespace."""
        client = self.redis_client()
        try:
            keys = client.keys(f"{self.env['DRAMATIQ_NAMESPACE']}:*.XQ.msgs")
            return sum(client.hlen(k) for k in keys)
        finally:
            client.close()

    def unpublished(self) -> int:
        """Outbox rows not yet published."""
        with self.engine.connect() as conn:
            query = text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
            return conn.execute(query).scalar_one()

    def finished(self, payment_ids: list[str]) -> int:
        """How many of these payments are terminal and have their e-mail recorded."""
        if not payment_ids:
            return 0
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM payments p WHERE p.id = ANY(CAST(:ids AS uuid[]))"
                    " AND p.status <> 'PENDING'"
                    " AND EXISTS (SELECT 1 FROM sent_emails e WHERE e.payment_id = p.id)"
                ),
                {"ids": payment_ids},
            ).scalar_one()

    def wait_settled(
        self,
        payment_ids: list[str],
        timeout: float = SETTLE_TIMEOUT_S,
        extra: Callable[[], bool] = lambda: True,
        quiet_s: float = 2.0,
    ) -> bool:
        """Wait until every payment finished, the outbox and the queues are empty, and `extra`
        holds, steadily for `quiet_s`; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        steady_since: float | None = None
        while time.monotonic() < deadline:
            try:
                done = (
                    self.finished(payment_ids) == len(payment_ids)
                    and self.unpublished() == 0
                    and self.queued_messages() == 0
                    and extra()
                )
            except Exception:  # a service we stopped on purpose; keep waiting
                done = False
            if not done:
                steady_since = None
            elif steady_since is None:
                steady_since = time.monotonic()
            elif time.monotonic() - steady_since >= quiet_s:
                return True
            time.sleep(0.5)
        return False

    def last_change(self) -> object:
        """When any payment, transaction or e-mail record last changed."""
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT greatest((SELECT max(updated_at) FROM payments),"
                    " (SELECT max(updated_at) FROM transactions),"
                    " (SELECT max(sent_at) FROM sent_emails))"
                )
            ).scalar_one()

    def wait_stalled(self, quiet_s: float = 6.0, timeout: float = 90.0) -> bool:
        """Wait until nothing moves: no queued message, no unpublished row, and no change in
        the database for `quiet_s`; False when `timeout` passed first."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = (self.last_change(), self.unpublished(), self.queued_messages())
            if now != last:
                last, since = now, time.monotonic()
            elif now[1:] == (0, 0) and time.monotonic() - since >= quiet_s:
                return True
            time.sleep(0.5)
        return False

    def log_count(self, label: str, needle: str) -> int:
        """How many lines of a process's log contain `needle`."""
        return sum(needle in line for line in self.processes[label].output().splitlines())

    def conclude(self, load: Load, started: float, **notes: object) -> Row:
        """The scenario's row: what it left behind, with its HTTP answers, dead letters and
        the gateway's own count of charges (one per SUCCESS payment, none per FAILED)."""
        charges = self.gateway.counts()["charges_by_payment"]
        mine = {pid: n for pid, n in charges.items() if pid in load.emails}
        return tally(
            self.name,
            self.engine,
            self.smtp,
            load.emails,
            [at for at, label in self.kills if label == "worker"],
            time.monotonic() - started,
            {
                **notes,
                "http": status_summary(load.status_counts()),
                "dead_letters": self.dead_letters(),
                "gateway_charges": sum(mine.values()),
            },
            charges=mine,
        )

    def close(self) -> None:
        self.stop_all()
        self.engine.dispose()


def open_stage(
    name: str, services: PrivateServices, smtp: StampingSmtp, root: Path, **overrides: str
) -> Stage:
    """A fresh database, namespace, topics and group for scenario `name` (nothing started)."""
    slug = "".join(c if c.isalnum() else "_" for c in name.lower())
    database_url = services.create_database(f"faults_{slug}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": services.redis_url,
            "DRAMATIQ_NAMESPACE": f"faults-{slug}",
            "KAFKA_BOOTSTRAP_SERVERS": services.kafka_servers,
            "KAFKA_GROUP_ID": f"faults-{slug}",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp.port),
            "API_KEYS": "",  # scoped keys only: the front end's and the back office's
            "API_KEY_SECRET": keys.SECRET,
            "GATEWAY_TRANSIENT_FAILURE_RATE": "0.05",
            "LOG_FORMAT": "json",
            "RELAY_METRICS_PORT": "0",
            "WORKER_METRICS_PORT": "0",
            "BRIDGE_METRICS_PORT": "0",
            # Every client of a scenario calls from 127.0.0.1: one caller for the limiter,
            # whose 429s would end their retries (the limit has tests of its own).
            "RATE_LIMIT": "off",
            "DB_POOL_SIZE": "10",
            "FLASK_APP": "web:create_app",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({var: f"{slug}.{var}" for var in config.TOPIC_VARIABLES})
    env.update(overrides)
    log_dir = root / slug
    log_dir.mkdir(parents=True, exist_ok=True)
    gateway = Simulator(env, log_dir)
    env["GATEWAY_URL"] = gateway.url
    engine = make_engine(database_url, pool_size=2)
    migrate(engine)
    ensure_topics(config.from_env(env), partitions=3)
    return Stage(
        name, services, smtp, env, engine, log_dir, free_port(), keys.issue(engine), gateway
    )
