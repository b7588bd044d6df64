"""Every problem `type` the API answers with resolves to a page for people (issue 30): its
status, title, when it happens and what to do, translated; /problems lists them all."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from devstack.procs import ROOT
from payments.bootstrap import bootstrap
from payments.config import Settings
from web.errors import SLUGS
from web.problem_pages import PAGES


def emitted_slugs() -> set[str]:
    """Every slug the web package can put in a problem's type, read from its source."""
    found = set(SLUGS.values()) | {"http-error"}
    for path in (ROOT / "web").glob("*.py"):
        source = path.read_text()
        found |= set(re.findall(r'Problem\(\s*\d{3},\s*"([a-z-]+)"', source))
    return found


@pytest.fixture(scope="module")
def app() -> Flask:
    from web import create_app

    return create_app({"CONTAINER": bootstrap(Settings(rate_limit="off"))})


def test_the_slugs_are_found_at_all() -> None:
    assert {
        "validation-error",
        "insufficient-scope",
        "amount-exceeds-refundable",
    } <= emitted_slugs()


def test_every_problem_type_the_api_uses_has_a_page(app: Flask) -> None:
    missing = emitted_slugs() - set(PAGES)
    assert not missing, f"problem types with no page: {sorted(missing)}"
    client = app.test_client()
    for slug, (status, *_texts) in PAGES.items():
        page = client.get(f"/problems/{slug}")
        assert page.status_code == 200 and page.mimetype == "text/html", slug
        html = page.get_data(as_text=True)
        assert f"/problems/{slug}" in html and f"<h1>{status} " in html


def test_the_pages_speak_the_callers_language_and_list_each_other(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/problems/validation-error", headers={"Accept-Language": "pt-BR"})
    assert "Falha na validação" in page.get_data(as_text=True)
    assert 'lang="pt"' in page.get_data(as_text=True)
    listing = client.get("/problems", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert listing.count("<li>") == len(PAGES)


def test_an_unknown_type_is_a_404_problem(app: Flask) -> None:
    answer = app.test_client().get("/problems/no-such-thing")
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
