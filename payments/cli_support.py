"""Helpers shared by the `flask` commands: one clear line on failure, never a traceback;
the daemons' stop signals."""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import click

from payments.errors import first_line

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("payments.daemon")


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        log.info("received %s, stopping after the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


class UsageProblem(click.ClickException):
    """Wrong combination of options: one line, exit code 2 (like click's usage errors)."""

    exit_code = 2


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
