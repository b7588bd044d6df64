"""Locale negotiation shared by the API (Accept-Language) and the workers (stored locale)."""

from __future__ import annotations

from collections.abc import Iterable

from babel import Locale, UnknownLocaleError

SUPPORTED_LANGUAGES = ("en", "pt", "es")
DEFAULT_LOCALE = "en"


def resolve_locale(tag: str | None) -> str | None:
    """The locale for a BCP 47 tag if its language is supported ('pt-BR' -> 'pt_BR'), else None."""
    if not tag or len(tag) > 64:
        return None
    try:
        locale = Locale.parse(tag.strip().replace("_", "-"), sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if locale.language not in SUPPORTED_LANGUAGES:
        return None
    return str(locale)


def negotiate(preferred: str | None, accepted: Iterable[str] = ()) -> str:
    """The explicit tag if supported, else the first supported Accept-Language tag, else 'en'."""
    for tag in (preferred, *accepted):
        locale = resolve_locale(tag)
        if locale:
            return locale
    return DEFAULT_LOCALE


def catalog_language(locale: str) -> str:
    """The catalog a locale reads from: its language ('pt_BR' -> 'pt')."""
    language = locale.split("_", 1)[0]
    return language if language in SUPPORTED_LANGUAGES else DEFAULT_LOCALE
