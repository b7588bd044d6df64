"""Map every failure to a problem+json response; 500s are logged with a request id."""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, g, request
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from web.problems import Problem

log = logging.getLogger("payments.api")

SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    503: "service-unavailable",
}


def request_id() -> str:
    """This request's id (from `X-Request-ID` when sane, else a new one)."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if 0 < len(given) <= 128 and given.isprintable() else uuid.uuid4().hex
    return g.request_id


def _http_problem(exc: HTTPException) -> Response:
    status = exc.code or 500
    titles = {
        400: _("Bad request"),
        401: _("Unauthorized"),
        404: _("Not found"),
        405: _("Method not allowed"),
        413: _("Payload too large"),
        415: _("Unsupported media type"),
        429: _("Too many requests"),
    }
    details = {
        404: _("The requested resource does not exist."),
        405: _("This method is not allowed on this resource."),
        413: _("The request body is larger than 64 KiB."),
        429: _("Too many requests from this caller; retry after the time Retry-After says."),
    }
    problem = Problem(
        status,
        SLUGS.get(status, "http-error"),
        titles.get(status, exc.name),
        details.get(status, exc.description or exc.name),
    )
    response = problem.response()
    if status == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _unavailable(exc: Exception) -> Response:
    log.warning("database unavailable: %s", type(exc).__name__, extra={"request_id": request_id()})
    return Problem(
        503,
        SLUGS[503],
        _("Service unavailable"),
        _("The database is unreachable; try again shortly."),
        headers={"Retry-After": "5"},
    ).response()


def _unexpected(exc: Exception) -> Response:
    rid = request_id()
    log.exception("unexpected error", extra={"request_id": rid})
    return Problem(
        500,
        "internal-error",
        _("Internal server error"),
        _("Something went wrong on our side. Request id: %(request_id)s", request_id=rid),
        request_id=rid,
    ).response()


def _handle(exc: Exception) -> Response:
    if isinstance(exc, Problem):
        return exc.response()
    if isinstance(exc, HTTPException):
        return _http_problem(exc)
    if isinstance(exc, OperationalError | PoolTimeout) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return _unavailable(exc)
    return _unexpected(exc)


def init_app(app: Flask) -> None:
    """Register the handlers and the request-id header."""
    app.register_error_handler(Exception, _handle)

    @app.after_request
    def _request_id_header(response: Response) -> Response:
        response.headers["X-Request-ID"] = request_id()
        return response
