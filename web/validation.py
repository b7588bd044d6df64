"""Validation messages that stay translatable: marshmallow errors become gettext msgids.

Marshmallow formats its messages in English before the view sees them. Here every message
the request schema can raise is a msgid (plain text) or a `Msg` (a msgid with parameters,
still a `str` for marshmallow), and `field_errors` translates them for the request's locale.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext
from marshmallow import ValidationError, validate

from web.problems import Problem


def N_(msgid: str) -> str:  # noqa: N802 - the gettext convention that `pybabel extract` knows
    """Mark a msgid for extraction; it is translated later, by `translate`."""
    return msgid


class Msg(str):
    """An English message that remembers its msgid and parameters, for translating later."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, **params: Any) -> Msg:
        text = super().__new__(cls, msgid % params if params else msgid)
        text.msgid, text.params = msgid, params
        return text


REQUIRED = N_("This field is required.")
NULL = N_("This field may not be null.")
NOT_A_STRING = N_("Must be a string.")
UNKNOWN = N_("Unknown field.")
FIELD_MESSAGES = {
    "required": REQUIRED,
    "null": NULL,
    "invalid": NOT_A_STRING,
    "invalid_utf8": NOT_A_STRING,
    "validator_failed": N_("Invalid value."),
}
# The type of marshmallow's `error_messages` arguments.
ErrorMessages = dict[str, str | list[Any] | dict[Any, Any]]
SCHEMA_MESSAGES = {"unknown": UNKNOWN, "type": N_("The body must be a JSON object.")}


def messages(**overrides: str) -> ErrorMessages:
    """The error messages of one field: the shared msgids, with `overrides` by error key."""
    return {**FIELD_MESSAGES, **overrides}


class Length(validate.Length):
    """`marshmallow.validate.Length` with translatable messages (apispec still reads min/max)."""

    def _format_error(self, value: Any, message: str) -> str:
        if self.min is not None and self.max is not None:
            return Msg(
                N_("Must be %(min)d to %(max)d characters long."), min=self.min, max=self.max
            )
        if self.max is not None:
            return Msg(N_("Must be at most %(max)d characters long."), max=self.max)
        return Msg(N_("Must be at least %(min)d characters long."), min=self.min)


class Regexp(validate.Regexp):
    """`marshmallow.validate.Regexp` that must match the whole value (as JSON Schema's `^...$`)."""

    regex: re.Pattern[str]  # only ever built from a str pattern

    def __init__(self, regex: str, flags: int = 0, *, error: str | None = None) -> None:
        super().__init__(regex, flags, error=error)

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self.error)
        return value


class Range(validate.Range):
    """`marshmallow.validate.Range` (both ends, inclusive) with a translatable message."""

    def _format_error(self, value: Any, message: str) -> str:
        return Msg(N_("Must be from %(min)s to %(max)s."), min=self.min, max=self.max)


class OneOf(validate.OneOf):
    """`marshmallow.validate.OneOf` with a translatable message naming the choices."""

    def _format_error(self, value: Any) -> str:
        return Msg(N_("Must be one of: %(choices)s."), choices=", ".join(map(str, self.choices)))


def fail(msgid: str, field: str | None = None, **params: Any) -> ValidationError:
    """A ValidationError carrying a translatable message (for `field` when given)."""
    text = Msg(msgid, **params)
    return ValidationError(text, field) if field else ValidationError(text)


def translate(text: Any) -> str:
    """The message in the request's language (msgids without a catalog entry stay English)."""
    if isinstance(text, Msg):
        return gettext(text.msgid, **text.params)
    return gettext(str(text))


def field_errors(messages_by_field: Any) -> list[dict[str, str]]:
    """Marshmallow's error dict as the problem's `errors`: `{field, message}` sorted by field."""
    errors: list[dict[str, str]] = []
    for field, value in sorted(messages_by_field.items()):
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, dict):  # nested errors: name the sub-field
                errors.extend(
                    {"field": f"{field}.{e['field']}", "message": e["message"]}
                    for e in field_errors(text)
                )
            else:
                errors.append({"field": str(field), "message": translate(text)})
    return errors


def invalid_body(messages_by_field: Any, detail: str | None = None) -> Problem:
    """The 422 problem of a request body (or, with its own `detail`, a query) that failed
    validation, naming each field."""
    return Problem(
        422,
        "validation-error",
        gettext("Validation failed"),
        detail or gettext("The request body has invalid fields."),
        errors=field_errors(messages_by_field),
    )
