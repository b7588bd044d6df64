"""Fixtures shared by every tier. Tests use random ids, so no table is ever truncated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine

from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from tests.support import env
from tests.support.wiring import schema_engine

TIERS = ("unit", "integration", "e2e", "faults", "devstack")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by their folder: tests/integration -> integration, tests/e2e -> e2e."""
    for item in items:
        parts = Path(str(item.fspath)).parts
        if "integration" in parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in parts or "faults" in parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def settings() -> Settings:
    """Settings of the real services under test."""
    return env.settings()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    """A real PostgreSQL engine with the schema applied."""
    with schema_engine(settings.database_url, pool_size=5) as engine:
        yield engine
    env.drop_databases()


@pytest.fixture
def container(settings: Settings, engine: Engine) -> Container:
    """The composition root on the real database (simulated gateway)."""
    return bootstrap(settings, engine=engine)


@pytest.fixture
def app(container: Container) -> Flask:
    """The Flask app on the real database."""
    from web import create_app

    return create_app({"TESTING": True, "CONTAINER": container})


@pytest.fixture
def client(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_client()
