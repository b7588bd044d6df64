"""300 payments while the relay, the bridge and the worker are SIGKILLed at random moments."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from tests.support.faults import Stage
from tests.support.tally import Row, failures

PAYMENTS = 300
POST_SECONDS = 25.0
CHAOS_SECONDS = 30.0  # kills happen within this many seconds of the first payment
VICTIMS = ("relay", "bridge", "worker", "gateway")


def test_every_daemon_killed_at_random_loses_and_doubles_nothing(
    stage_for: Callable[..., Stage], report: Callable[[Row], None], rng: random.Random
) -> None:
    stage = stage_for("sigkill relay+bridge+worker")
    stage.start_all()
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "kill")
    poster = load.start()

    # Each daemon at least twice, two more picked at random; restarted 0.2-2 s later.
    stage.chaos(VICTIMS, CHAOS_SECONDS, rng, first_s=2.0)
    poster.join()

    settled = stage.wait_settled(load.accepted)
    kills = [label for _, label in stage.kills]
    row = stage.conclude(
        load,
        started,
        kills=" ".join(f"{v}x{kills.count(v)}" for v in VICTIMS),
        seed=getattr(rng, "seed_value", None),
    )
    report(row)
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    codes = stage.stop_all()
    assert (codes["relay"], codes["bridge"]) == (0, 0), f"unclean stop on SIGTERM: {codes}"
