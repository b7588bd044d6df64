"""The service's one error hierarchy: every error it raises on purpose is a `PaymentsError`.

As Dramatiq has `DramatiqError`: callers that want "anything this service means to raise"
catch one class; infrastructure errors (psycopg, redis, kafka) stay what they are.
"""

from __future__ import annotations


class PaymentsError(Exception):
    """Base of every error raised on purpose by the service."""


class ConfigError(PaymentsError):
    """A setting is missing or malformed; the message names the variable."""


class UnknownCursor(PaymentsError):
    """A listing's `starting_after` or `ending_before` names no item of it."""


class NotFound(PaymentsError):
    """The payment, transaction or refund named does not exist."""


class NotReady(PaymentsError):
    """The step's precondition does not hold yet (a later delivery will find it done)."""


class AlreadyDone(PaymentsError):
    """A unique key refused the write: another delivery did this step first."""


class DeliveryError(PaymentsError):
    """A message could not be handed on (Kafka, Redis): the caller retries."""


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or its type name when it has none.

    Never the later lines: database errors put the statement and its parameters there.
    """
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def summary(err: BaseException, limit: int = 200) -> str:
    """An exception as one short line: 'Type: first line of its message', bounded."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return text[:limit]
