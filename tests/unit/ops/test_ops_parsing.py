"""Parsing and formatting in the operator commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from outbox.cli import format_age
from outbox.replay import parse_payment_id, parse_since


def test_a_naive_time_is_taken_as_utc() -> None:
    assert parse_since("2024-05-01T12:30:00") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)


def test_a_zoned_time_keeps_its_zone() -> None:
    assert parse_since("2024-05-01T12:30:00Z") == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    moment = parse_since("2024-05-01T09:30:00-03:00")
    assert moment.utcoffset() == timedelta(hours=-3)
    assert moment == datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert parse_since(" 2024-05-01T12:30:00+01:00 ").tzinfo == timezone(timedelta(hours=1))


@pytest.mark.parametrize("text", ["yesterday", "", "2024-13-01", "12:00 May 1"])
def test_an_unreadable_time_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 time"):
        parse_since(text)


def test_payment_ids_are_uuids() -> None:
    pid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    assert parse_payment_id(pid) == pid.lower()
    with pytest.raises(ValueError, match="not a payment id"):
        parse_payment_id("42")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (45, "45s"), (187, "3m07s"), (7500, "2h05m"), (4 * 86400 + 3 * 3600, "4d03h")],
)
def test_ages_read_at_a_glance(seconds: int, shown: str) -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    assert format_age(now, now - timedelta(seconds=seconds)) == shown


def test_no_oldest_event_is_a_dash() -> None:
    assert format_age(datetime.now(UTC), None) == "-"
