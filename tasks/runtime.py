"""The worker process's app and container, built on first use (not at import)."""

from __future__ import annotations

import threading

from flask import Flask

from payments.bootstrap import Container

_lock = threading.Lock()
_app: Flask | None = None


def use(app: Flask | None) -> None:
    """Install an app built elsewhere (tests), or None to rebuild on next use."""
    global _app
    _app = app


def app() -> Flask:
    """The process's Flask app (for Flask-Mail, Flask-Babel and templates)."""
    global _app
    if _app is None:
        with _lock:
            if _app is None:
                from web import create_app

                _app = create_app()
    return _app


def container() -> Container:
    """The process's composition root."""
    from web import container_of

    return container_of(app())
