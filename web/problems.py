"""RFC 9457 problem details: the one shape of every error response."""

from __future__ import annotations

from typing import Any

from flask import Response, json
from marshmallow import Schema, fields

PROBLEM_TYPE_BASE = "/problems/"
MEDIA_TYPE = "application/problem+json"


# The attribute a response carries its own Retry-After in, out of reach of the rate limiter.
OWN_RETRY_AFTER = "own_retry_after"


class Problem(Exception):
    """An error to answer with; raise it from a view, `errors` turns it into the response."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **members: Any,
    ):
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors, self.headers, self.members = errors, headers or {}, members

    def body(self) -> dict[str, Any]:
        """The JSON body."""
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.members)
        return body

    def response(self) -> Response:
        """The `application/problem+json` response."""
        response = Response(json.dumps(self.body()), self.status, mimetype=MEDIA_TYPE)
        response.headers.update(self.headers)
        if "Retry-After" in self.headers:  # kept through the rate limiter (web.ratelimit)
            setattr(response, OWN_RETRY_AFTER, self.headers["Retry-After"])
        return response


class FieldErrorSchema(Schema):
    """One invalid field of a validation problem."""

    field = fields.String(required=True)
    message = fields.String(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details, the body of every error."""

    type = fields.String(
        required=True,
        metadata={
            "example": "/problems/validation-error",
            "description": "Resolves to a page for people: when it happens, what to do.",
        },
    )
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={"description": "On 422."})
    request_id = fields.String(metadata={"description": "On 500: the id in the log line."})
