"""Helpers shared by the operator commands: one clear line on failure, never a traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class UsageProblem(click.ClickException):
    """Wrong combination of options: one line, exit code 2 (like click's usage errors)."""

    exit_code = 2


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or its type name when it has none."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def describe_failure(err: BaseException) -> str:
    """One line naming the service that failed, for the errors operators meet most."""
    from kafka.errors import KafkaError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError

    if isinstance(err, DBAPIError):
        return f"PostgreSQL unreachable or failing: {first_line(err.orig or err)}"
    if isinstance(err, RedisConnectionError | RedisTimeoutError):
        return f"Redis unreachable: {first_line(err)}"
    if isinstance(err, KafkaError):
        return f"Kafka unreachable or not acknowledging: {first_line(err)}"
    return f"{type(err).__name__}: {first_line(err)}"


def one_line_errors(command: F) -> F:
    """Turn any exception escaping `command` into a one-line click error (exit code 1)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.Abort, click.exceptions.Exit):
            raise
        except Exception as err:
            raise click.ClickException(describe_failure(err)) from None

    return wrapper  # type: ignore[return-value]
