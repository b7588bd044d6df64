"""The delivery horizon (`payments.horizon`) on fake positions: it moves to the newest
snapshot the bridge's group has committed past, never backwards, and survives a broker that
lost its data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.horizon import FakePositions, Horizon, caught_up

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
A0, B0 = ("payment.created", 0), ("payment.created", 1)


class Ticking:
    """A clock one second further at each reading."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def positions() -> FakePositions:
    return FakePositions()


def test_caught_up_needs_every_partition_and_counts_an_uncommitted_one_as_zero() -> None:
    assert caught_up({A0: 5, B0: 0}, {A0: 5})
    assert not caught_up({A0: 5, B0: 1}, {A0: 7})
    assert not caught_up({A0: 5}, {A0: 4})
    assert caught_up({}, {})


def test_unknown_until_the_bridge_is_seen_caught_up(positions: FakePositions) -> None:
    horizon = Horizon(positions, Ticking())
    positions.ends = {A0: 10}
    assert horizon.advance() is None  # the first snapshot: nothing to compare yet
    positions.commits = {A0: 9}
    assert horizon.advance() is None  # one record still in Kafka
    positions.commits = {A0: 10}
    assert horizon.advance() == T0 + timedelta(seconds=2)  # the newest snapshot passed


def test_it_moves_to_the_newest_snapshot_caught_up(positions: FakePositions) -> None:
    horizon = Horizon(positions, Ticking())
    for end in (10, 20, 30):
        positions.ends = {A0: end}
        horizon.advance()
    positions.commits = {A0: 25}
    assert horizon.advance() == T0 + timedelta(seconds=2)  # ends 20 passed, 30 not yet
    positions.commits = {A0: 40}
    assert horizon.advance() == T0 + timedelta(seconds=4)  # the snapshot taken at 25 too


def test_it_never_moves_back(positions: FakePositions) -> None:
    horizon = Horizon(positions, Ticking())
    positions.ends = {A0: 10}
    horizon.advance()
    positions.commits, positions.ends = {A0: 10}, {A0: 50}  # then a burst it is behind on
    reached = horizon.advance()
    assert reached == T0 + timedelta(seconds=1)
    assert horizon.advance() == reached
    assert horizon.advance() == reached


def test_after_the_broker_lost_its_data_newer_snapshots_still_count(
    positions: FakePositions,
) -> None:
    horizon = Horizon(positions, Ticking())
    positions.ends = {A0: 500}
    horizon.advance()  # taken before the loss; never reached again
    positions.ends, positions.commits = {A0: 3}, {}  # the log starts again from 0
    horizon.advance()
    positions.commits = {A0: 3}
    assert horizon.advance() == T0 + timedelta(seconds=2)
