"""Locale negotiation: region variants keep their region, unknown or malformed tags fall to 'en'."""

from __future__ import annotations

import pytest

from payments.i18n import catalog_language, negotiate, resolve_locale


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        ("en", "en"),
        ("pt", "pt"),
        ("es", "es"),
        ("pt-BR", "pt_BR"),
        ("pt-PT", "pt_PT"),
        ("es-MX", "es_MX"),
        ("es-419", "es_419"),
        ("en-US", "en_US"),
        ("PT-br", "pt_BR"),
        ("pt_BR", "pt_BR"),
        (" es-mx ", "es_MX"),
        ("pt-Latn-BR", "pt_BR"),
        ("pt-BR-u-nu-latn", "pt_BR"),
        ("es-MX-x-private", "es_MX"),
        ("pt-XX", "pt"),
        ("pt-999", "pt"),
    ],
)
def test_a_supported_language_resolves_keeping_a_known_region(tag: str, locale: str) -> None:
    assert resolve_locale(tag) == locale


@pytest.mark.parametrize(
    "tag",
    [
        None,
        "",
        "   ",
        "de",
        "de-DE",
        "fr-BR",
        "zh-Hant-TW",
        "english",
        "ptx",
        "p",
        "pt-",
        "-pt",
        "pt--BR",
        "pt-BR;q=0.5",
        "pt-BR.UTF-8",
        "123",
        "*",
        "x-klingon",
        "i-klingon",
        "pt-" + "a" * 70,
        "pt\x00BR",
    ],
)
def test_an_unsupported_or_malformed_tag_resolves_to_nothing(tag: str | None) -> None:
    assert resolve_locale(tag) is None


def test_the_explicit_tag_wins_over_accept_language() -> None:
    assert negotiate("es-MX", ["pt-BR", "en"]) == "es_MX"


def test_an_unsupported_explicit_tag_gives_way_to_the_first_supported_accepted_one() -> None:
    assert negotiate("de", ["fr-FR", "*", "pt-BR", "es"]) == "pt_BR"


def test_malformed_everything_falls_back_to_english() -> None:
    assert negotiate("??", ["", "de", "pt-", "x-klingon"]) == "en"
    assert negotiate(None) == "en"


def test_a_stored_locale_negotiates_to_itself() -> None:
    for locale in ("en", "pt", "pt_BR", "pt_PT", "es", "es_MX"):
        assert negotiate(locale) == locale


@pytest.mark.parametrize(
    ("locale", "catalog"),
    [("pt_BR", "pt"), ("pt_PT", "pt"), ("es_MX", "es"), ("en_US", "en"), ("de", "en")],
)
def test_a_locale_reads_its_language_catalog(locale: str, catalog: str) -> None:
    assert catalog_language(locale) == catalog
