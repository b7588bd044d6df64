"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, current_app
from sqlalchemy import text

from web import container_of
from web.problems import Problem

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """200 while the process runs."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Any:
    """200 when PostgreSQL and Redis answer, else 503 naming which are down."""
    container = container_of(current_app)
    down = []
    try:
        with container.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        down.append("postgresql")
    try:
        client = redis.Redis.from_url(
            container.settings.redis_url, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
        client.close()
    except Exception:
        down.append("redis")
    if down:
        raise Problem(
            503, "service-unavailable", "Service unavailable", f"Not ready: {', '.join(down)} down."
        )
    return {"status": "ready", "postgresql": "up", "redis": "up"}
