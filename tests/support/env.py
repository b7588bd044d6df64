"""The services the tests talk to: from the environment `make test` exports, with local defaults.

Each test session gets its own PostgreSQL database, Dramatiq namespace and Kafka consumer
group, so that sessions running side by side (or a `make run`) never see each other's work.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import psycopg
from sqlalchemy.engine import make_url

from devstack.procs import free_port as free_port  # re-exported: the one free_port
from payments import config

SESSION = uuid.uuid4().hex[:10]
DEFAULTS = config.Settings()  # the service's own defaults


def server_url() -> str:
    """DATABASE_URL as given (the database the session's own database is created beside)."""
    return os.environ.get("DATABASE_URL", DEFAULTS.database_url)


def libpq(url: str) -> str:
    """`url` as libpq takes it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    with psycopg.connect(libpq(server_url()), autocommit=True) as conn:
        conn.execute(sql)


def _database_name(label: str) -> str:
    return f"test_{SESSION}_{label}"


def database_url_of(label: str) -> str:
    """The URL of this session's database `label` (whether or not it exists yet)."""
    name = _database_name(label)
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


_created: list[str] = []


def create_database(label: str) -> str:
    """A fresh, empty database for this session, dropped by `drop_databases`; its URL."""
    name = _database_name(label)
    _admin(f'CREATE DATABASE "{name}"')
    _created.append(name)
    return database_url_of(label)


@contextmanager
def own_database(label: str, template: str | None = None) -> Iterator[str]:
    """A fresh database for this session (empty, or a copy of the session's database
    `template`, which nobody may be connected to), dropped on leaving the block; its URL."""
    name = _database_name(label)
    copy = f' TEMPLATE "{_database_name(template)}"' if template else ""
    _admin(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield database_url_of(label)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@cache
def database_url() -> str:
    """The session's main database (created on first use)."""
    return create_database("main")


def drop_databases() -> None:
    """Drop every database this session created."""
    with psycopg.connect(libpq(server_url()), autocommit=True) as conn:
        while _created:
            conn.execute(f'DROP DATABASE IF EXISTS "{_created.pop()}" WITH (FORCE)')


def base_env(**overrides: str) -> dict[str, str]:
    """The environment for the service's processes under test."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        {
            "DATABASE_URL": database_url(),
            "REDIS_URL": os.environ.get("REDIS_URL", DEFAULTS.redis_url),
            "DRAMATIQ_NAMESPACE": f"test-{SESSION}",
            "KAFKA_BOOTSTRAP_SERVERS": os.environ.get(
                "KAFKA_BOOTSTRAP_SERVERS", DEFAULTS.kafka_bootstrap_servers
            ),
            "KAFKA_GROUP_ID": f"test-bridge-{SESSION}",
            "FLASK_APP": "web:create_app",
            "PYTHONUNBUFFERED": "1",
            # Every test of a session calls from 127.0.0.1: one caller, whose count would
            # depend on the order tests run in. The rate-limit tests set their own limits.
            "RATE_LIMIT": "off",
        }
    )
    env.update(overrides)
    return env


def settings(**overrides: str) -> config.Settings:
    """Settings as the processes under test see them."""
    return config.from_env(base_env(**overrides))


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections there."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
