"""Flask-Babel set-up, shared by the API (Accept-Language) and the workers (forced locale)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, has_request_context, request
from flask_babel import Babel

from payments.i18n import DEFAULT_LOCALE, SUPPORTED_LANGUAGES

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


def select_locale() -> str:
    """The request's best Accept-Language match among the catalogs, else 'en'."""
    if has_request_context():
        return request.accept_languages.best_match(SUPPORTED_LANGUAGES) or DEFAULT_LOCALE
    return DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    """Attach Flask-Babel with the repository's `translations/` catalogs."""
    Babel(
        app,
        default_locale=DEFAULT_LOCALE,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
    )
