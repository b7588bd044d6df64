"""Flask-Babel set-up, shared by the API (Accept-Language) and the workers (forced locale).

The API picks each request's locale from Accept-Language; a worker renders each e-mail
under `force_locale(payment.user_language)` inside its own app context. Both negotiate
with `payments.i18n`, so 'pt-BR' reads the 'pt' catalog and keeps 'pt_BR' for formatting.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, request
from flask_babel import Babel

from payments.i18n import DEFAULT_LOCALE, negotiate

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"
DOMAIN = "messages"

log = logging.getLogger("payments.i18n")


def request_languages() -> list[str]:
    """The request's Accept-Language tags, most preferred first, without the refused (q=0)."""
    if not has_request_context():
        return []
    ranked = [(quality, tag) for tag, quality in request.accept_languages if quality > 0]
    return [tag for _quality, tag in sorted(ranked, key=lambda pair: -pair[0])]


def select_locale() -> str:
    """The request's best supported Accept-Language locale ('pt_BR'), else 'en'."""
    return negotiate(None, request_languages()) if has_request_context() else DEFAULT_LOCALE


def compile_catalogs(directory: Path = TRANSLATIONS) -> list[Path]:
    """Compile every `.po` whose `.mo` is missing or older; return the `.mo` files written.

    `make translations` normally does this at build time; doing it at start too means a
    fresh checkout never serves untranslated e-mails. Each file is replaced atomically,
    so processes starting together never read half a catalog. Fuzzy entries are left out,
    as `pybabel compile` does.
    """
    written = []
    for po_path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=po_path.parents[1].name)
        fd, tmp_name = tempfile.mkstemp(dir=mo_path.parent, prefix=".tmp-", suffix=".mo")
        try:
            with os.fdopen(fd, "wb") as tmp:
                write_mo(tmp, catalog)
            os.replace(tmp_name, mo_path)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        written.append(mo_path)
    return written


def init_app(app: Flask) -> None:
    """Attach Flask-Babel with the repository's `translations/` catalogs, compiled if needed."""
    try:
        for mo_path in compile_catalogs(TRANSLATIONS):
            log.info("compiled %s", mo_path.relative_to(TRANSLATIONS))
    except OSError as err:  # read-only install: serve whatever was compiled at build time
        log.warning("cannot compile the message catalogs: %s", err)
    Babel(
        app,
        default_locale=DEFAULT_LOCALE,
        default_domain=DOMAIN,
        default_translation_directories=str(TRANSLATIONS),
        locale_selector=select_locale,
    )
