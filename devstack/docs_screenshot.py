"""`python -m devstack.docs_screenshot`: draw /docs (the API reference, tags, scopes) into
docs/api-reference.png with Debian's Chromium, on the app served in this process (no
database needed: the page and its document are static)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from werkzeug.serving import make_server

from devstack import browser
from devstack.procs import ROOT, free_port

OUT = ROOT / "docs" / "api-reference.png"


def main() -> int:
    from payments.bootstrap import bootstrap
    from payments.config import Settings
    from web import create_app

    app = create_app({"CONTAINER": bootstrap(Settings(rate_limit="off"))})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.run([f"--screenshot={OUT}", "--window-size=1280,1500",
                     "--virtual-time-budget=8000", f"http://127.0.0.1:{port}/docs"])  # fmt: skip
    finally:
        server.shutdown()
    print(Path(OUT).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
