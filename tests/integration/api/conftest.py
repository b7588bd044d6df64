"""Apps on the real database with chosen settings, and request helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from payments.bootstrap import bootstrap
from payments.config import Settings


@pytest.fixture
def make_app(settings: Settings, engine: Engine) -> Callable[..., Flask]:
    """Build an app on the session database with some settings replaced."""
    from web import create_app

    def make(engine_: Engine | None = None, **overrides: Any) -> Flask:
        container = bootstrap(replace(settings, **overrides), engine=engine_ or engine)
        return create_app({"TESTING": True, "CONTAINER": container})

    return make
