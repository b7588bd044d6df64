"""The delivery horizon: a time before which every published event is known to be in Redis.

Self-healing must tell a lost step from one still on its way. Redis says which messages are
queued (`payments.queue.queued`), but a step can also be upstream of Redis: its outbox row
not yet published, or published and not yet consumed by the bridge (a relay or bridge
behind under a burst). Re-driving such a step sends a duplicate message.

The bridge commits a partition's offset only after every record before it was enqueued. So
if, at time `h`, the topics' end offsets were E, and later the bridge's group has committed
at least E on every partition, then every event acknowledged by Kafka before `h` has been
enqueued. The relay marks a row published (with PostgreSQL's clock) only after Kafka
acknowledged it, so an event with `published_at < h` is past the bridge: if its step is not
in Redis and did not run, its message is lost.

`Horizon` keeps the snapshots (h, E) taken at each sweep and moves `h` forward to the newest
snapshot the bridge has caught up with. It only moves forward: what was enqueued stays
enqueued (or ran), so an older horizon stays true while Kafka cannot be asked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Protocol

Offsets = Mapping[tuple[str, int], int]  # (topic, partition) -> offset

SNAPSHOTS_KEPT = 120  # at one sweep a second or slower: two minutes of bridge lag and more


class Positions(Protocol):
    """Where the topics end, and where the bridge's consumer group has committed."""

    def end_offsets(self) -> Offsets: ...
    def committed(self) -> Offsets: ...


def caught_up(ends: Offsets, committed: Offsets) -> bool:
    """Whether the group has committed at least `ends` on every partition (a partition it
    never committed counts as offset 0, where an `earliest` consumer starts)."""
    return all(committed.get(tp, 0) >= end for tp, end in ends.items())


class Horizon:
    """The newest time before which every published event has been enqueued."""

    def __init__(self, positions: Positions, clock: Callable[[], datetime]):
        self.positions = positions
        self.clock = clock
        self.snapshots: deque[tuple[datetime, Offsets]] = deque(maxlen=SNAPSHOTS_KEPT)
        self.time: datetime | None = None

    def advance(self) -> datetime | None:
        """Move the horizon to the newest snapshot the bridge caught up with, then take a
        new snapshot; the horizon (None until the bridge is first seen caught up).

        Raises what the broker raises; the horizon kept so far stays valid."""
        committed = self.positions.committed()
        # Normally the caught-up snapshots are the oldest ones; after Kafka lost its data
        # (offsets start again from 0) an old one may never be, so look at each.
        reached = [i for i, (_, ends) in enumerate(self.snapshots) if caught_up(ends, committed)]
        if reached:
            for _ in range(reached[-1] + 1):
                taken_at, _ends = self.snapshots.popleft()
            self.time = taken_at
        # The clock first: an event acknowledged before `taken` is below the ends read next.
        taken = self.clock()
        self.snapshots.append((taken, self.positions.end_offsets()))
        return self.time


class FakePositions:
    """In-memory positions for unit tests: set `ends` and `commits` by hand."""

    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], int] = {}
        self.commits: dict[tuple[str, int], int] = {}

    def end_offsets(self) -> Offsets:
        return dict(self.ends)

    def committed(self) -> Offsets:
        return dict(self.commits)
