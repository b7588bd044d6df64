"""The message catalogs are complete: a message the code uses but a catalog lacks fails here.

Fix a failure with `make update` (extract the messages, merge them into the catalogs),
then translate the new or fuzzy entries of `translations/pt` and `translations/es`.
"""

from __future__ import annotations

import io
import re
from functools import cache

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from devstack.procs import ROOT

TRANSLATIONS = ROOT / "translations"
TRANSLATED = ("pt", "es")
LANGUAGES = ("en", *TRANSLATED)
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*\d*(?:\.\d+)?([diouxXeEfFgGcrsa%])")


@cache
def template() -> Catalog:
    with (TRANSLATIONS / "messages.pot").open("rb") as pot:
        return read_po(pot)


@cache
def catalog(language: str) -> Catalog:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def texts(value: str | tuple[str, ...] | list[str] | None) -> list[str]:
    if value is None:
        return [""]
    return [value] if isinstance(value, str) else list(value)


def placeholders(text: str) -> list[str]:
    """The printf-style placeholders of a message, e.g. ['%(name)s'], '%%' left out."""
    return sorted(
        f"%({name}){kind}" if name else f"%{kind}"
        for name, kind in PLACEHOLDER.findall(text)
        if kind != "%"
    )


def messages() -> list[Message]:
    return [m for m in template() if m.id]


def source_messages() -> dict[str, str]:
    """Every msgid the code and templates use (as `pybabel extract -F babel.cfg` finds them)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = {}
    for filename, lineno, msgid, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        text = msgid if isinstance(msgid, str) else msgid[0]
        found.setdefault(text, f"{filename}:{lineno}")
    return found


def test_the_template_holds_every_message_the_code_uses() -> None:
    known = {key(m) for m in messages()}
    missing = {msgid: where for msgid, where in source_messages().items() if msgid not in known}
    assert not missing, f"not in messages.pot (run `make update`): {missing}"


def test_the_template_is_not_empty() -> None:
    assert len(messages()) > 10


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_lists_every_message(language: str) -> None:
    missing = [key(m) for m in messages() if key(m) not in catalog(language)]
    assert not missing, f"{language}: missing (run `make update`): {missing}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_message_is_translated(language: str) -> None:
    untranslated = []
    for m in messages():
        entry = catalog(language).get(m.id)
        if entry is None or entry.fuzzy or not all(t.strip() for t in texts(entry.string)):
            untranslated.append(key(m))
    assert not untranslated, f"{language}: untranslated or fuzzy: {untranslated}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = []
    for m in catalog(language):
        if not m.id:
            continue
        expected = placeholders(texts(m.id)[-1])
        for text in texts(m.string):
            if text and placeholders(text) != expected:
                wrong.append((key(m), text))
    assert not wrong, f"{language}: placeholders differ from the msgid: {wrong}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalog_compiles(language: str) -> None:
    write_mo(io.BytesIO(), catalog(language))
    assert not list(catalog(language).check())


def test_placeholders_are_found() -> None:
    assert placeholders("Hi %(name)s, %(count)d for %s (100%%)") == [
        "%(count)d",
        "%(name)s",
        "%s",
    ]
