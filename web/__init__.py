"""The Flask application factory: the HTTP API (`gunicorn 'web:create_app()'`).

The `flask` command groups come from the `flask.commands` entry points (pyproject.toml),
not from here: the API builds no Dramatiq broker and imports no other process package.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from payments import bootstrap
from payments.bootstrap import Container


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app on a container: `test_config` may hold `CONTAINER` (a ready one) or
    `SETTINGS`, plus any Flask setting; else the settings come from the environment."""
    app = Flask(__name__)
    test_config = dict(test_config or {})
    container: Container | None = test_config.pop("CONTAINER", None)
    if container is None:
        settings = test_config.pop("SETTINGS", None) or bootstrap.settings_or_exit()
        container = bootstrap.bootstrap(settings)
    app.config.from_mapping(MAX_CONTENT_LENGTH=64 * 1024, JSON_SORT_KEYS=False)
    app.config.update(test_config)
    app.extensions[bootstrap.APP_KEY] = container

    from web import (
        docs,
        errors,
        health,
        i18n,
        listing,
        logs,
        metrics,
        openapi,
        payments,
        problem_pages,
        ratelimit,
        refund_views,
        webhooks,
    )

    logs.init_app(app, container.settings)
    i18n.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    registry = metrics.init_app(app)
    ratelimit.init_app(app, container.settings, registry)
    for blueprint in (payments.bp, refund_views.bp, listing.bp):
        ratelimit.limit(app, blueprint)
        app.register_blueprint(blueprint)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(docs.bp)
    app.register_blueprint(problem_pages.bp)
    webhooks.init_app(app, registry)  # its own authentication (the signature), never limited
    return app
