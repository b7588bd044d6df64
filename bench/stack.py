"""The run's own corner of the shared services: database, Dramatiq namespace, group, topics.

A fresh PostgreSQL database per run (`bench_<run id>`, dropped at the end) beside the one
DATABASE_URL names; topic names, consumer groups and Dramatiq namespaces get the run id and
the phase (each e2e step is a phase of its own), so nothing here meets a test session, a
`make run`, or an earlier step's backlog.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from kafka.admin import KafkaAdminClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from devstack import topics
from payments import config
from payments.config import TOPIC_VARIABLES, Settings
from payments.db.engine import make_engine
from payments.db.migrations import migrate

log = logging.getLogger("bench")
PARTITIONS = 3
DEFAULT_DATABASE_URL = Settings().database_url  # the service's own default


def libpq(url: str) -> str:
    """An SQLAlchemy URL as a libpq one."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class BenchStack:
    """Where this run's processes point; `env(phase)` is the environment for one phase."""

    run_id: str
    log_dir: Path
    database_url: str
    engine: Engine

    @classmethod
    def create(cls, log_dir: Path) -> BenchStack:
        """Create the run's database and apply schema.sql to it."""
        run_id = uuid.uuid4().hex[:8]
        server = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        name = f"bench_{run_id}"
        with psycopg.connect(libpq(server), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url, pool_size=4)
        migrate(engine)
        log_dir.mkdir(parents=True, exist_ok=True)
        return cls(run_id, log_dir, url, engine)

    def empty_tables(self) -> None:
        """Empty every table of the run's database: a step starts on no payment of an
        earlier phase or step (the janitor would re-drive those the pipeline never finished,
        billing their work to the step, and the relay would publish their rows)."""
        with self.engine.begin() as conn:
            names = conn.exec_driver_sql(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).scalars()
            conn.exec_driver_sql(
                "TRUNCATE " + ", ".join(f'"{name}"' for name in names) + " RESTART IDENTITY"
            )

    def env(self, phase: str, **overrides: str) -> dict[str, str]:
        """The service processes' environment for a phase (its own topics and group)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "BENCH_"))}
        env.update({name: f"bench-{self.run_id}-{phase}-{name}" for name in TOPIC_VARIABLES})
        env.update(
            DATABASE_URL=self.database_url,
            DRAMATIQ_NAMESPACE=f"bench-{self.run_id}-{phase}",
            KAFKA_GROUP_ID=f"bench-{self.run_id}-{phase}",
            LOG_LEVEL=os.environ.get("BENCH_LOG_LEVEL", "INFO"),
            FLASK_APP="web:create_app",
            PYTHONUNBUFFERED="1",
            # One load generator is one caller: the phases measure throughput, not the limit.
            # The API phase measures the limiter's own cost separately (bench/api.py).
            RATE_LIMIT="off",
        )
        env.update(overrides)
        return env

    def settings(self, phase: str) -> Settings:
        """Settings as the phase's processes see them."""
        return config.from_env(self.env(phase))

    def kafka_servers(self) -> list[str]:
        """The bootstrap servers, as kafka-python wants them."""
        return self.settings("any").kafka_bootstrap_servers.split(",")

    def create_topics(self, phase: str) -> list[str]:
        """Create the phase's topics (PARTITIONS each); returns their names."""
        names = self.settings(phase).topics.all()
        topics.ensure_topics(self.kafka_servers(), names, PARTITIONS)
        return names

    def close(self) -> None:
        """Drop the run's database and topics (best effort)."""
        self.engine.dispose()
        server = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        name = make_url(self.database_url).database
        try:
            with psycopg.connect(libpq(server), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as err:
            log.warning("could not drop database %s: %s", name, err)
        admin = None
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.kafka_servers())
            mine = [t for t in admin.list_topics() if t.startswith(f"bench-{self.run_id}-")]
            if mine:
                admin.delete_topics(mine)
        except Exception as err:  # noqa: BLE001 - cleanup must not hide the results
            log.info("could not delete the run's topics: %s", err)
        finally:
            if admin is not None:
                admin.close()
