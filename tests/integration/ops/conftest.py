"""Fixtures for the operator tools: a database, topics and a Dramatiq namespace of their own.

The e2e stack of the same session (its relay, bridge and workers) runs on the session's
database, default topics and namespace; these tests must see a backlog stay put and dead
letters stay dead, so they use their own, created here and removed at the end.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.cli import cli as flask_cli  # every group of the `flask.commands` entry points
from kafka.admin import KafkaAdminClient
from sqlalchemy import Engine

from payments.adapters.mailer import FakeMailer
from payments.adapters.publisher import KafkaPublisher
from payments.bootstrap import Container, bootstrap
from payments.config import TOPIC_VARIABLES, Settings
from tests.support import env
from tests.support.kafka import ensure_topics
from tests.support.wiring import schema_engine, worker_app

OPS = f"{env.SESSION}_ops"


def ops_environ(**overrides: str) -> dict[str, str]:
    """The service environment of these tests (their database, topics and namespace)."""
    values = {
        "DATABASE_URL": env.database_url_of("ops"),
        "DRAMATIQ_NAMESPACE": f"test-{OPS}",
        **{name: f"{name}.ops-{env.SESSION}" for name in TOPIC_VARIABLES},
    }
    values.update(overrides)
    return env.base_env(**values)


def ops_settings(**overrides: str) -> Settings:
    """Settings as the processes under test see them."""
    from payments import config

    return config.from_env(ops_environ(**overrides))


@pytest.fixture(scope="session")
def settings_ops(engine: Engine) -> Iterator[Settings]:
    """The ops settings; creates (and finally drops) the database, topics and namespace."""
    with env.own_database("ops"):
        settings = ops_settings()
        ensure_topics(settings, partitions=1)
        try:
            yield settings
        finally:
            client = redis.Redis.from_url(settings.redis_url)
            keys = list(client.scan_iter(match=f"{settings.dramatiq_namespace}*:*", count=500))
            if keys:
                client.delete(*keys)
            client.close()
            with contextlib.suppress(Exception):
                servers = settings.kafka_bootstrap_servers.split(",")
                admin = KafkaAdminClient(bootstrap_servers=servers)
                admin.delete_topics(settings.topics.all())
                admin.close()


@pytest.fixture(scope="session")
def engine_ops(settings_ops: Settings) -> Iterator[Engine]:
    """An engine on the ops database, schema applied."""
    with schema_engine(settings_ops.database_url, pool_size=3) as engine:
        yield engine


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def container_ops(settings_ops: Settings, engine_ops: Engine, mailer: FakeMailer) -> Container:
    """The composition root on the ops database, e-mail kept in a fake."""
    return bootstrap(settings_ops, engine=engine_ops, mailer=mailer)


@pytest.fixture
def app_ops(container_ops: Container) -> Iterator[Flask]:
    """The app on the ops database; the actors of this process use it too."""
    with worker_app(container_ops) as app:
        yield app


def run(app: Flask, *args: str) -> Any:
    """Invoke a `flask` command in-process; the click result."""
    return app.test_cli_runner().invoke(flask_cli, args=list(args))


def drain_outbox(container: Container) -> int:
    """Publish every waiting outbox row to the real Kafka, as the relay does; how many."""
    from outbox.relay import Relay

    publisher = KafkaPublisher(container.settings.kafka_bootstrap_servers, timeout_s=15)
    relay = Relay(container.engine, lambda: publisher, batch_size=100)
    total = 0
    try:
        while count := relay.run_once():
            total += count
    finally:
        publisher.close()
    return total


@pytest.fixture
def worker_ops(settings_ops: Settings, app_ops: Flask) -> Iterator[Any]:
    """A real Dramatiq worker in this process, on Redis in the ops namespace, running the
    service's actors with the broker middleware the service installs."""
    import dramatiq

    import tasks
    from payments.queue.broker import redis_broker

    client = redis.Redis.from_url(settings_ops.redis_url)
    broker = redis_broker(client, settings_ops.dramatiq_namespace)
    for actor in (tasks.charge_payment, tasks.send_payment_email):
        broker.declare_actor(actor)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        yield broker
    finally:
        done = threading.Thread(target=worker.stop, daemon=True)
        done.start()
        done.join(15)
        broker.close()
