"""The Flask application factory: the HTTP API and the `flask` CLI."""

from __future__ import annotations

import sys
from typing import Any

from flask import Flask

from payments import config
from payments.bootstrap import Container, bootstrap


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from the environment, then `test_config` overrides.

    `test_config` may hold `SETTINGS` (a `payments.config.Settings`) and `CONTAINER`
    (a ready `Container`), plus any Flask setting.
    """
    app = Flask(__name__)
    test_config = dict(test_config or {})
    container: Container | None = test_config.pop("CONTAINER", None)
    settings = test_config.pop("SETTINGS", None) or (
        container.settings if container else _settings_or_exit()
    )
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
        MAIL_SERVER=settings.mail_server,
        MAIL_PORT=settings.mail_port,
        MAIL_USERNAME=settings.mail_username,
        MAIL_PASSWORD=settings.mail_password,
        MAIL_USE_TLS=settings.mail_use_tls,
        MAIL_USE_SSL=settings.mail_use_ssl,
        MAIL_DEFAULT_SENDER=settings.mail_default_sender,
    )
    app.config.update(test_config)
    app.extensions["payments"] = container or bootstrap(settings)

    from web import cli, emails, errors, health, i18n, logs, openapi, payments

    logs.init_app(app, settings)
    i18n.init_app(app)
    emails.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
    from web import metrics

    metrics.init_app(app)
    app.register_blueprint(payments.bp)
    app.register_blueprint(openapi.bp)
    cli.init_app(app)
    return app


def _settings_or_exit() -> config.Settings:
    """Settings from the environment; a bad one stops the process with one line naming it."""
    try:
        return config.from_env()
    except config.ConfigError as err:
        sys.exit(f"configuration error: {err}")


def container_of(app: Flask) -> Container:
    """The app's composition root."""
    return app.extensions["payments"]
