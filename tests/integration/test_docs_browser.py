"""GET /docs in a real headless Chromium: the endpoints are listed, from the service's own
assets. `.ci/run` installs Chromium where it is missing; without one this test is skipped,
and the skip says why."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from devstack import browser
from payments.bootstrap import bootstrap
from payments.config import Settings

BROWSER = browser.browser()


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    import dataclasses

    from web import create_app

    app = create_app({"CONTAINER": bootstrap(dataclasses.replace(settings, rate_limit="off"))})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


@pytest.mark.skipif(
    BROWSER is None, reason="no Chromium (apt-get install chromium): /docs not rendered"
)
def test_the_reference_lists_every_endpoint_in_a_real_browser(served: str) -> None:
    dom = browser.run(["--virtual-time-budget=15000", "--dump-dom", f"{served}/docs"])
    assert "Ticket payments" in dom  # the document's title, rendered by Swagger UI
    for path in (
        "/payments",
        "/payments/{payment_id}",
        "/payments/{payment_id}/refunds",
        "/refunds/{refund_id}",
        "/events/{event_id}/cancellation",
    ):
        assert f'data-path="{path}"' in dom, path
