"""Errors in Stripe's shape (https://docs.stripe.com/api/errors)."""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    """An error answer: `{"error": {...}}` with its HTTP status and headers."""

    def __init__(self, status: int, error: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(error.get("message"))
        self.status, self.error, self.headers = status, error, headers or {}


def invalid(message: str, param: str | None = None, code: str | None = None) -> StripeError:
    """A 400 `invalid_request_error`."""
    return StripeError(
        400, {"type": "invalid_request_error", "message": message, "param": param, "code": code}
    )


def missing(kind: str, object_id: str, param: str) -> StripeError:
    """A 404 `resource_missing`."""
    return StripeError(
        404,
        {
            "type": "invalid_request_error",
            "code": "resource_missing",
            "param": param,
            "message": f"No such {kind}: '{object_id}'",
        },
    )
