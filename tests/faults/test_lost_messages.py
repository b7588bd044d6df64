"""Redis restarted without persistence mid-run: queued messages are gone for good.

The worker is killed first so that messages pile up in Redis, then Redis is killed and
started empty. Kafka offsets were already committed for those messages, so nothing in the
pipeline will ever deliver them again: the payments stop. No operator steps in: the relay's
self-healing sweep (contract section 7, STUCK_AFTER_SECONDS=5 here) re-drives each from its
current step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.faults import Stage
from tests.support.private import PrivateServices
from tests.support.procs import wait_until
from tests.support.tally import Row, failures

PAYMENTS = 100
POST_SECONDS = 15.0
FLOWING_AFTER = 5  # payments finished before the worker is killed: the pipeline is moving
WORKER_DOWN_S = 4.0  # then messages pile up in Redis this long before it is wiped


def test_messages_lost_with_redis_are_recovered_without_an_operator(
    stage_for: Callable[..., Stage], services: PrivateServices, report: Callable[[Row], None]
) -> None:
    # A slow gateway keeps charges queued too, so messages are lost at more than one step.
    stage = stage_for(
        "redis wiped, self-healed", GATEWAY_LATENCY_MS="1000", STUCK_AFTER_SECONDS="5"
    )
    stage.start_all()
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "lost")
    poster = load.start()
    wait_until(lambda: stage.finished(load.accepted) >= FLOWING_AFTER, timeout=60)
    stage.kill("worker")
    time.sleep(WORKER_DOWN_S)
    queued_when_wiped = stage.queued_messages()
    services.redis.kill()
    services.redis.start()  # empty: started without persistence
    stage.start("worker")
    poster.join()

    accepted = load.accepted
    settled = stage.wait_settled(accepted)
    redriven = stage.log_count("relay", "re-drove ")
    row = stage.conclude(
        load, started, queued_when_wiped=queued_when_wiped, self_healing_redrives=redriven
    )
    report(row)
    assert queued_when_wiped > 0, "no message was lost: the scenario proved nothing"
    assert redriven > 0, "nothing was re-driven: the payments settled without the sweep?"
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
