"""What the fixtures of several test packages build alike: an engine, an app for the actors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Engine

from payments import bootstrap
from payments.bootstrap import Container
from payments.db.engine import make_engine
from payments.db.migrations import migrate


@contextmanager
def schema_engine(url: str, pool_size: int) -> Iterator[Engine]:
    """An engine on `url` with the schema applied, disposed of on leaving the block."""
    engine = make_engine(url, pool_size=pool_size)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


@contextmanager
def worker_app(container: Container) -> Iterator[Flask]:
    """The app on `container`; `container` is also the actors' in this process
    (`bootstrap.current()`) until the block is left."""
    from web import create_app

    app = create_app({"TESTING": True, "CONTAINER": container})
    bootstrap.install(container)
    try:
        yield app
    finally:
        bootstrap.install(None)
