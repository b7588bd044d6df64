"""Rate limits per caller (contract section 2, `RATE_LIMIT`), with Flask-Limiter on Redis.

- Counted in the Redis the service already runs, so every API process shares one count.
- Per caller: the API key's scope (an `API_KEYS` key or a key of `flask keys`; an unknown
  key counts as its client address), else the client address (`request.remote_addr`:
  behind a proxy, configure it to set the address, e.g. werkzeug's ProxyFix).
- Only the blueprints that ask for it are limited (payments, refunds, events); health,
  readiness, docs and metrics never are.
- Over the limit: 429 problem+json with `Retry-After`, translated like every other problem.
- Redis not answering: the request is served (fail open), one log line and
  `ratelimit_storage_errors_total` count it; refusing payments because the limiter's
  store is down would be worse than a burst.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, has_app_context, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from prometheus_client import CollectorRegistry, Counter

from payments import bootstrap
from payments.config import Settings
from web import problems
from web.auth import ANONYMOUS, bearer_token, matching_key, scope_of

log = logging.getLogger("payments.ratelimit")

OFF = "off"
EXTENSION = "payments.limiter"
ERRORS = "payments.limiter_errors"
STORAGE_TIMEOUT_S = 0.25  # a Redis that does not answer costs a request at most this


def caller_key() -> str:
    """Whom a request is counted against: its API key's scope (an `API_KEYS` key or an
    active key of `flask keys`), else its client address."""
    container = bootstrap.current()
    token = bearer_token()
    if token is not None:
        if matching_key(token, container.settings.api_keys) is not None:
            return scope_of(token)
        if container.key_ring.caller(token) is not None:  # looked up once, kept briefly
            return scope_of(token)
    return f"addr:{request.remote_addr or ANONYMOUS}"


def limits_of(setting: str) -> str | None:
    """The limit string Flask-Limiter takes, or None when rate limiting is off."""
    value = setting.strip()
    return None if value.lower() == OFF else value


class _FailOpen(logging.Filter):
    """Turns Flask-Limiter's swallowed storage errors into one line, no traceback, counted
    in the current app's `ratelimit_storage_errors_total` (one filter for every app)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and "Swallowing error" in record.getMessage():
            error = record.exc_info[1]
            if has_app_context():
                counter = current_app.extensions.get(ERRORS)
                if counter is not None:
                    counter.inc()
            record.msg = "rate limit storage unreachable, request served unlimited (%s: %s)"
            record.args = (type(error).__name__, str(error).splitlines()[0] if error else "")
            record.exc_info = None
            record.exc_text = None
            record.name = log.name
        return True


_fail_open = _FailOpen()


def init_app(app: Flask, settings: Settings, registry: CollectorRegistry) -> Limiter | None:
    """Attach the limiter (None when `RATE_LIMIT=off`); blueprints opt in with `limit`."""
    if limits_of(settings.rate_limit) is None:
        return None
    limiter_log = logging.getLogger("flask-limiter")
    if _fail_open not in limiter_log.filters:
        limiter_log.addFilter(_fail_open)
    # Registered before the limiter, so that it runs after the limiter's own hook (Flask runs
    # them in reverse): see `_keep_own_retry_after`.
    app.after_request(_keep_own_retry_after)
    limiter = Limiter(
        caller_key,
        app=app,
        storage_uri=settings.redis_url,
        # redis-py takes float seconds; Flask-Limiter's annotation says str | int.
        storage_options=cast(
            Any, {"socket_timeout": STORAGE_TIMEOUT_S, "socket_connect_timeout": STORAGE_TIMEOUT_S}
        ),
        strategy="moving-window",
        headers_enabled=True,
        swallow_errors=True,
        key_prefix=f"{settings.dramatiq_namespace}:ratelimit",
    )
    errors = Counter(
        "ratelimit_storage_errors",
        "Requests served without a rate limit because Redis did not answer (fail open).",
        registry=registry,
    )
    app.extensions[ERRORS] = errors
    app.extensions[EXTENSION] = limiter
    return limiter


def _keep_own_retry_after(response: Response) -> Response:
    """Flask-Limiter rewrites every response's Retry-After to the seconds left in its window,
    truncated: a 409's or 503's "retry in 1 s" became "0", and clients retried at once (and
    ran into the limit). Only a 429 says when the limit allows again; every other response
    keeps its own hint, or gets none."""
    if response.status_code == 429:
        return response
    own = getattr(response, problems.OWN_RETRY_AFTER, None)
    if own is not None:
        response.headers["Retry-After"] = own
    else:
        response.headers.pop("Retry-After", None)
    return response


def limit(app: Flask, blueprint: Blueprint) -> None:
    """Limit every route of `blueprint` by `RATE_LIMIT`, one count per caller shared by every
    limited blueprint."""
    limiter: Limiter | None = app.extensions.get(EXTENSION)
    if limiter is None:
        return
    value = limits_of(bootstrap.container_of(app).settings.rate_limit)
    assert value is not None
    limiter.shared_limit(value, scope="api")(blueprint)


def is_rate_limited(exc: Any) -> bool:
    """Whether an exception is Flask-Limiter's 429."""
    return isinstance(exc, RateLimitExceeded)
