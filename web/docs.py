"""GET /docs: the API reference for people, rendered in the browser from /openapi.json.

Swagger UI 5's assets (it reads OpenAPI 3.1) come from the kept `swagger-ui-py` package and
are served by the service itself (contract section 3: no CDN; operators often run without
internet access).
Like health and metrics, the reference is never rate limited.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from flask import Blueprint, Response, abort, render_template_string, send_from_directory

bp = Blueprint("docs", __name__)

STATIC = files("swagger_ui") / "static"
ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ticket payments: API reference</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<style>body { margin: 0; } .topbar { display: none; }</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  validatorUrl: null
});
</script>
</body>
</html>
"""


@bp.get("/docs")
def docs() -> Any:
    """The API reference page (Swagger UI over /openapi.json)."""
    return render_template_string(PAGE)


@bp.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    """One of Swagger UI's files, from the installed package."""
    if name not in ASSETS:
        abort(404)
    return send_from_directory(str(STATIC), name, max_age=86400)
