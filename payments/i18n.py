"""Locale negotiation shared by the API (Accept-Language) and the workers (stored locale).

A locale is stored with each payment as Babel spells it ('pt_BR'): the region is kept
for formatting (`R$ 125,50`), while the messages come from the language's catalog
('pt_BR' and 'pt_PT' read 'pt', 'es_MX' reads 'es'). Tags whose language has no catalog,
and malformed tags, give way to the next candidate and finally to 'en'.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from babel import Locale, UnknownLocaleError

SUPPORTED_LANGUAGES = ("en", "pt", "es")
DEFAULT_LOCALE = "en"
MAX_TAG_LENGTH = 64

# BCP 47 `langtag` (RFC 5646 section 2.1) without extlang; '_' is accepted like '-'.
_LANGTAG = re.compile(
    r"(?P<language>[a-z]{2,3})"
    r"(?:-(?P<script>[a-z]{4}))?"
    r"(?:-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"  # variants
    r"(?:-[0-9a-wyz](?:-[a-z0-9]{2,8})+)*"  # extensions
    r"(?:-x(?:-[a-z0-9]{1,8})+)?",  # private use
    re.IGNORECASE,
)


def resolve_locale(tag: str | None) -> str | None:
    """The locale for a BCP 47 tag whose language has a catalog, else None.

    'pt-BR' -> 'pt_BR', 'es-mx' -> 'es_MX', 'pt-Latn-BR' -> 'pt_BR', 'pt-XX' -> 'pt'
    (a region Babel does not know keeps the language), 'de' or 'pt-' -> None.
    """
    if not tag or len(tag) > MAX_TAG_LENGTH:
        return None
    match = _LANGTAG.fullmatch(tag.strip().replace("_", "-"))
    if match is None:
        return None
    language = match["language"].lower()
    if language not in SUPPORTED_LANGUAGES:
        return None
    region = match["region"]
    if region:
        try:
            return str(Locale(language, territory=region.upper()))
        except UnknownLocaleError:
            pass
    return str(Locale(language))


def negotiate(preferred: str | None, accepted: Iterable[str] = ()) -> str:
    """The explicit tag if supported, else the first supported accepted tag, else 'en'.

    `accepted` holds the Accept-Language tags, most preferred first.
    """
    for tag in (preferred, *accepted):
        locale = resolve_locale(tag)
        if locale:
            return locale
    return DEFAULT_LOCALE


def catalog_language(locale: str) -> str:
    """The catalog a locale reads from: its language ('pt_BR' -> 'pt')."""
    language = locale.split("_", 1)[0]
    return language if language in SUPPORTED_LANGUAGES else DEFAULT_LOCALE
