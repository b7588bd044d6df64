"""The gettext catalogs in `translations/`: where they are, and compiling them at start.

Shared by every process that translates: the API (problem messages) and the e-mail renderer.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from payments import data_files

TRANSLATIONS = data_files.TRANSLATIONS
DOMAIN = "messages"

log = logging.getLogger("payments.i18n")


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


def ensure_compiled(directory: Path = TRANSLATIONS) -> None:
    """Compile what is stale; on a read-only install, keep what the build compiled."""
    try:
        for mo_path in compile_catalogs(directory):
            log.info("compiled %s", mo_path.relative_to(directory))
    except OSError as err:
        log.warning("cannot compile the message catalogs: %s", err)
