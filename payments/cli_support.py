"""Helpers shared by the `flask` commands: one clear line on failure, never a traceback;
the daemons' stop signals."""

from __future__ import annotations

import functools
import logging
import re
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


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `30s`, `5m`, `1h30m`, `2d` (ValueError if malformed)."""
    compact = text.strip().lower().replace(" ", "")
    parts = _DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m, 1h30m or 2d")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


class Duration(click.ParamType):
    """A click parameter holding a duration, converted to seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float | int):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)
