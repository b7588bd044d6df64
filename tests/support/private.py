"""Private PostgreSQL, Redis and Kafka instances: ours to pause, stop and kill.

The fault tests never touch the shared services other sessions use; they start their own
on free loopback ports with devstack's launchers (PostgreSQL runs as the `postgres` OS user
when we are root) and freeze, stop or kill those.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from devstack.embedded import Launch, start_kafka, start_redis
from devstack.postgres import start_postgres
from devstack.procs import Child, free_port
from devstack.settings import HostPort


@dataclass
class Service:
    """One private service process: start, pause (SIGSTOP), resume, stop, kill, restart."""

    name: str
    address: HostPort
    launch: Callable[[], Child]
    child: Child | None = field(default=None, repr=False)

    def start(self) -> Service:
        """Start the service and wait until it answers."""
        self.child = self.launch()
        return self

    @property
    def pid(self) -> int:
        assert self.child is not None, f"{self.name} is not running"
        return self.child.pid

    def pause(self) -> None:
        """Freeze the process: connections stay open, nothing answers."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused process run again."""
        os.kill(self.pid, signal.SIGCONT)

    def stop(self, sig: int | None = None, timeout: float = 20) -> None:
        """Stop with `sig` (default: the service's own stop signal), then reap what is left."""
        if self.child is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.child.pid, signal.SIGCONT)  # a paused process cannot stop
        if sig is None:
            self.child.stop(timeout)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child.pid, sig)
            deadline = time.monotonic() + timeout
            while self.child.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.child.kill()
        self.child = None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.child is not None:
            self.child.kill()
            self.child = None


class PrivateServices:
    """PostgreSQL, Redis and a Tansu Kafka broker of our own, under `run_dir`."""

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        for directory in (run_dir, run_dir.parent):
            directory.chmod(0o755)  # the `postgres` OS user must get in
        launch = Launch(run_dir)
        pg = HostPort("127.0.0.1", free_port())
        self.admin_url = f"postgresql+psycopg://root@{pg.host}:{pg.port}/postgres"
        self.postgres = Service("postgres", pg, lambda: start_postgres(pg, self.admin_url, launch))
        rd = HostPort("127.0.0.1", free_port())
        self.redis = Service("redis", rd, lambda: start_redis(rd, launch))
        kf = HostPort("127.0.0.1", free_port())
        self.kafka = Service("kafka", kf, lambda: start_kafka(kf, launch))

    @property
    def redis_url(self) -> str:
        return f"redis://{self.redis.address.host}:{self.redis.address.port}/0"

    @property
    def kafka_servers(self) -> str:
        return f"{self.kafka.address.host}:{self.kafka.address.port}"

    def database_url(self, name: str) -> str:
        """The URL of database `name` on the private cluster."""
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def create_database(self, name: str) -> str:
        """Create database `name`; its URL."""
        libpq = self.admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def start(self) -> PrivateServices:
        """Start all three."""
        for service in (self.postgres, self.redis, self.kafka):
            service.start()
        return self

    def stop(self) -> None:
        """Stop all three and delete the database cluster's files."""
        for service in (self.kafka, self.redis, self.postgres):
            with contextlib.suppress(Exception):
                service.stop(timeout=10)
        shutil.rmtree(self.run_dir / "pg", ignore_errors=True)
