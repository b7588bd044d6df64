"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, Flask, current_app
from flask_babel import gettext as _

from payments import bootstrap
from payments.bootstrap import container_of
from payments.db.engine import ping
from web.problems import Problem

bp = Blueprint("health", __name__)


def _redis(app: Flask) -> redis.Redis:
    """One Redis client per app (its pool reconnects), with short timeouts for probes."""
    client = app.extensions.get("payments.readyz_redis")
    if client is None:
        client = redis.Redis.from_url(
            container_of(app).settings.redis_url, socket_timeout=1, socket_connect_timeout=1
        )
        app.extensions["payments.readyz_redis"] = client
    return client


@bp.get("/healthz")
def healthz() -> Any:
    """200 while the process runs."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    """200 when PostgreSQL and Redis answer, else 503 naming which are down."""
    container = bootstrap.current()
    down = []
    try:
        ping(container.engine)
    except Exception:
        down.append("postgresql")
    try:
        _redis(current_app).ping()
    except Exception:
        down.append("redis")
    if down:
        raise Problem(
            503,
            "service-unavailable",
            _("Service unavailable"),
            _("Not ready: %(down)s down.", down=", ".join(down)),
        )
    return {"status": "ready", "postgresql": "up", "redis": "up"}
