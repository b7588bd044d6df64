"""Fixtures for the operator tools: a database, topics and a Dramatiq namespace of their own.

The e2e stack of the same session (its relay, bridge and workers) runs on the session's
database, default topics and namespace; these tests must see a backlog stay put and dead
letters stay dead, so they use their own, created here and removed at the end.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import redis
from flask import Flask
from kafka.admin import KafkaAdminClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from payments import services
from payments.adapters.mailer import FakeMailer
from payments.adapters.publisher import KafkaPublisher
from payments.bootstrap import Container, bootstrap
from payments.config import TOPIC_VARIABLES, Settings
from payments.db.engine import apply_schema, make_engine
from payments.domain.model import Payment
from tests.support import env
from tests.support.kafka import ensure_topics

OPS = f"{env.SESSION}_ops"


def ops_environ(**overrides: str) -> dict[str, str]:
    """The service environment of these tests (their database, topics and namespace)."""
    values = {
        "DATABASE_URL": _ops_database_url(),
        "DRAMATIQ_NAMESPACE": f"test-{OPS}",
        **{name: f"{name}.ops-{env.SESSION}" for name in TOPIC_VARIABLES},
    }
    values.update(overrides)
    return env.base_env(**values)


def ops_settings(**overrides: str) -> Settings:
    """Settings as the processes under test see them."""
    from payments import config

    return config.from_env(ops_environ(**overrides))


def _ops_database_url() -> str:
    return make_url(env.server_url()).set(database=f"test_{OPS}").render_as_string(False)


def _admin(sql: str) -> None:
    url = make_url(env.server_url()).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings_ops(engine: Engine) -> Iterator[Settings]:
    """The ops settings; creates (and finally drops) the database, topics and namespace."""
    name = make_url(_ops_database_url()).database
    _admin(f'CREATE DATABASE "{name}"')
    settings = ops_settings()
    ensure_topics(settings, partitions=1)
    try:
        yield settings
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(settings.redis_url)
        keys = list(client.scan_iter(match=f"{settings.dramatiq_namespace}*:*", count=500))
        if keys:
            client.delete(*keys)
        client.close()
        with contextlib.suppress(Exception):
            admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers.split(","))
            admin.delete_topics(settings.topics.all())
            admin.close()


@pytest.fixture(scope="session")
def engine_ops(settings_ops: Settings) -> Iterator[Engine]:
    """An engine on the ops database, schema applied."""
    engine = make_engine(settings_ops.database_url, pool_size=3)
    apply_schema(engine)
    yield engine
    engine.dispose()


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
    from tasks import runtime
    from web import create_app

    app = create_app({"TESTING": True, "CONTAINER": container_ops})
    runtime.use(app)
    yield app
    runtime.use(None)


def run(app: Flask, *args: str) -> Any:
    """Invoke a `flask` command in-process; the click result."""
    return app.test_cli_runner().invoke(args=list(args))


def place(container: Container, token: str = "TOKEN123", payment_id: uuid.UUID | None = None):  # type: ignore[no-untyped-def]
    """Store a PENDING payment (with its payment.created event); the payment."""
    command = services.PlacePayment(
        user_name="Ana",
        user_email=f"{uuid.uuid4().hex[:8]}@example.com",
        user_language="en",
        event_id="show-1",
        amount=Decimal("125.50"),
        currency="USD",
        payment_token=token,
        event_name="Show",
    )
    if payment_id is None:
        return services.place_payment(container.uow(), command)
    with container.uow() as uow:
        payment = Payment.place(payment_id, uow.clock(), **command.__dict__)
        uow.repo.add_payment(payment)
        uow.commit()
    return payment


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
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.middleware import CurrentMessage

    import tasks
    from tasks import observability

    client = redis.Redis.from_url(settings_ops.redis_url)
    broker = RedisBroker(client=client, namespace=settings_ops.dramatiq_namespace)
    observability.install(broker, settings_ops)
    broker.add_middleware(CurrentMessage())
    for actor in (tasks.create_transaction, tasks.process_transaction, tasks.settle_payment):
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
