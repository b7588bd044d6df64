"""Reading a request's JSON body: bounded, exact numbers, one problem per way it is wrong."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from flask import current_app, request
from flask_babel import gettext as _

from web.problems import Problem


def parse_json_object(empty_is_object: bool = False) -> dict[str, Any]:
    """The body as a JSON object with numbers kept exact; 413/415/400 problems otherwise.

    With `empty_is_object`, no body at all (whatever its Content-Type) is `{}`.
    """
    data = read_body(current_app.config["MAX_CONTENT_LENGTH"])
    if empty_is_object and not data:
        return {}
    if not request.is_json:
        raise Problem(
            415,
            "unsupported-media-type",
            _("Unsupported media type"),
            _("Send the body as application/json."),
        )
    try:
        body = json.loads(
            data, parse_float=Decimal, parse_int=Decimal, parse_constant=_reject_constant
        )
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Problem(
            400, "bad-request", _("Bad request"), _("The body is not valid JSON.")
        ) from None
    if not isinstance(body, dict):
        raise Problem(400, "bad-request", _("Bad request"), _("The body must be a JSON object."))
    return body


def read_body(limit: int) -> bytes:
    """The raw body, or a 413 problem once it is known to be over `limit` bytes.

    Without Content-Length (chunked), read at most `limit + 1` bytes from a stream the
    server terminates: werkzeug's own limit would silently cut such a body at `limit`.
    """
    if request.content_length is not None and request.content_length > limit:
        raise too_large()
    if request.content_length is not None or "wsgi.input_terminated" not in request.environ:
        return request.get_data(cache=True)
    stream, data = request.environ["wsgi.input"], b""
    while len(data) <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - len(data)))
        if not chunk:
            return data
        data += chunk
    raise too_large()


def too_large() -> Problem:
    """The 413 problem."""
    return Problem(
        413,
        "payload-too-large",
        _("Payload too large"),
        _("The request body is larger than 64 KiB."),
    )


def _reject_constant(name: str) -> None:
    raise ValueError(name)
