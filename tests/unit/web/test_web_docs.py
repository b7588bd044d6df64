"""GET /docs: the API reference page and its assets, served by the service itself."""

from __future__ import annotations

import re

from flask import Flask

from payments.bootstrap import bootstrap
from payments.config import Settings


def _app() -> Flask:
    from web import create_app

    return create_app({"CONTAINER": bootstrap(Settings(rate_limit="off"))})


def test_the_page_loads_only_its_own_assets_and_the_document() -> None:
    client = _app().test_client()
    page = client.get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    assert 'url: "/openapi.json"' in html
    assert "http://" not in html and "https://" not in html  # no CDN, nothing remote
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.get_data()) > 100


def test_only_the_listed_assets_are_served() -> None:
    client = _app().test_client()
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/assets/..%2F..%2Fpyproject.toml").status_code == 404
    css = client.get("/docs/assets/swagger-ui.css")
    assert css.mimetype == "text/css"
