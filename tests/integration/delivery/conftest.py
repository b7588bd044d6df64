"""Fixtures for the delivery tests: a database, topics and a Dramatiq namespace of their own.

The e2e stack of the same session runs a relay, a bridge and a worker on the session's
database and namespace; rows, messages and e-mails of these tests must be seen by nobody
else, so they live in a database created here and dropped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import Engine, text

from payments.adapters.gateway import FakeGateway
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from tests.support import env
from tests.support.wiring import schema_engine, worker_app


@pytest.fixture(scope="session")
def delivery_url() -> Iterator[str]:
    """URL of a database only these tests use."""
    with env.own_database("delivery") as url:
        yield url


@pytest.fixture(scope="session")
def delivery_engine(delivery_url: str) -> Iterator[Engine]:
    """An engine on that database, schema applied."""
    with schema_engine(delivery_url, pool_size=5) as engine:
        yield engine


@pytest.fixture
def clean_outbox(delivery_engine: Engine) -> Engine:
    """The engine, with every earlier test's outbox row marked published (relays start clean)."""
    with delivery_engine.begin() as conn:
        conn.execute(text("UPDATE outbox SET published_at = now() WHERE published_at IS NULL"))
    return delivery_engine


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def delivery_container(
    settings: Settings, delivery_engine: Engine, mailer: FakeMailer
) -> Container:
    """The composition root on the delivery database, with a fake gateway and mailer."""
    return bootstrap(settings, engine=delivery_engine, gateway=FakeGateway(), mailer=mailer)


@pytest.fixture
def delivery_app(delivery_container: Container) -> Iterator[Flask]:
    """An app on that container, also installed as the worker runtime's app."""
    with worker_app(delivery_container) as app:
        yield app
