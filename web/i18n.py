"""Flask-Babel for the API: each request's locale comes from Accept-Language.

Negotiation is `payments.i18n`'s, so 'pt-BR' reads the 'pt' catalog and keeps 'pt_BR' for
formatting; the catalogs are `payments.adapters.catalogs`'.
"""

from __future__ import annotations

from flask import Flask, has_request_context, request
from flask_babel import Babel

from payments.adapters.catalogs import DOMAIN, TRANSLATIONS, ensure_compiled
from payments.i18n import DEFAULT_LOCALE, negotiate


def request_languages() -> list[str]:
    """The request's Accept-Language tags, most preferred first, without the refused (q=0)."""
    if not has_request_context():
        return []
    ranked = [(quality, tag) for tag, quality in request.accept_languages if quality > 0]
    return [tag for _quality, tag in sorted(ranked, key=lambda pair: -pair[0])]


def select_locale() -> str:
    """The request's best supported Accept-Language locale ('pt_BR'), else 'en'."""
    return negotiate(None, request_languages()) if has_request_context() else DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    """Attach Flask-Babel with the repository's `translations/` catalogs, compiled if needed."""
    ensure_compiled(TRANSLATIONS)
    Babel(
        app,
        default_locale=DEFAULT_LOCALE,
        default_domain=DOMAIN,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
    )
