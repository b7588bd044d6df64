"""The one Flask-Babel set-up: Accept-Language for the API, a forced locale for the workers."""

from __future__ import annotations

import gettext
import os
import shutil
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _

from payments.adapters import catalogs
from web import i18n


@pytest.fixture(scope="module")
def app() -> Flask:
    app = Flask("web")
    i18n.init_app(app)
    return app


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("pt-BR,pt;q=0.9,en;q=0.8", "pt_BR"),
        ("de-DE, es-MX;q=0.8, en;q=0.5", "es_MX"),
        ("en;q=0.2, pt-PT;q=0.7", "pt_PT"),
        ("es;q=0, pt;q=0.5", "pt"),
        ("fr, de;q=0.9", "en"),
        ("*", "en"),
        ("not a header;;;", "en"),
    ],
)
def test_the_api_negotiates_accept_language(app: Flask, header: str, locale: str) -> None:
    with app.test_request_context(headers={"Accept-Language": header}):
        assert i18n.select_locale() == locale
        assert str(get_locale()) == locale


def test_without_accept_language_the_api_speaks_english(app: Flask) -> None:
    with app.test_request_context():
        assert i18n.request_languages() == []
        assert i18n.select_locale() == "en"


def test_refused_languages_are_left_out_and_the_rest_ranked_by_quality(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "es;q=0, de;q=0.4, pt-BR;q=0.9"}):
        assert i18n.request_languages() == ["pt-BR", "de"]


def test_a_request_reads_the_catalog_of_its_language(app: Flask) -> None:
    with app.test_request_context(headers={"Accept-Language": "pt-BR"}):
        assert _("Payment approved") == "Pagamento aprovado"
    with app.test_request_context(headers={"Accept-Language": "es-MX"}):
        assert _("Payment approved") == "Pago aprobado"


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en", "Payment approved"),
        ("pt", "Pagamento aprovado"),
        ("pt_BR", "Pagamento aprovado"),
        ("pt_PT", "Pagamento aprovado"),
        ("es", "Pago aprobado"),
        ("es_MX", "Pago aprobado"),
    ],
)
def test_a_worker_forces_the_stored_locale_in_an_app_context(
    app: Flask, locale: str, text: str
) -> None:
    with app.app_context(), force_locale(locale):
        assert _("Payment approved") == text


def _copy_catalogs(tmp_path: Path) -> Path:
    directory = tmp_path / "translations"
    shutil.copytree(catalogs.TRANSLATIONS, directory, ignore=shutil.ignore_patterns("*.mo"))
    return directory


def test_missing_catalogs_are_compiled_at_start(tmp_path: Path) -> None:
    directory = _copy_catalogs(tmp_path)

    written = catalogs.compile_catalogs(directory)

    assert sorted(p.parents[1].name for p in written) == ["en", "es", "pt"]
    with (directory / "pt/LC_MESSAGES/messages.mo").open("rb") as mo:
        assert gettext.GNUTranslations(mo).gettext("Payment approved") == "Pagamento aprovado"
    assert catalogs.compile_catalogs(directory) == []
    assert not list(directory.rglob(".tmp-*"))


def test_a_catalog_edited_after_compiling_is_compiled_again(tmp_path: Path) -> None:
    directory = _copy_catalogs(tmp_path)
    catalogs.compile_catalogs(directory)
    po = directory / "es/LC_MESSAGES/messages.po"
    mo = po.with_suffix(".mo")
    os.utime(mo, (1_000_000, 1_000_000))

    assert catalogs.compile_catalogs(directory) == [mo]


def test_fuzzy_translations_are_not_compiled(tmp_path: Path) -> None:
    directory = _copy_catalogs(tmp_path)
    po = directory / "es/LC_MESSAGES/messages.po"
    text = po.read_text(encoding="utf-8")
    marker = 'msgid "Payment approved"\n'
    assert marker in text
    po.write_text(text.replace(marker, "#, fuzzy\n" + marker), encoding="utf-8")

    catalogs.compile_catalogs(directory)

    with po.with_suffix(".mo").open("rb") as mo:
        assert gettext.GNUTranslations(mo).gettext("Payment approved") == "Payment approved"
