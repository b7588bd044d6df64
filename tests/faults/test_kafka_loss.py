"""The Kafka broker restarted after losing events nobody had consumed (contract section 7).

The bridge is killed, so that events wait in Kafka unconsumed; the broker (memory storage)
is then killed and started empty. The relay had marked those events published, so nothing
will deliver them again: the self-healing sweep (STUCK_AFTER_SECONDS=5) re-drives each
payment from the step the database says it is at. No operator command.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.faults import Stage
from tests.support.kafka import ensure_topics
from tests.support.private import PrivateServices
from tests.support.procs import wait_until
from tests.support.tally import Row, failures

PAYMENTS = 100
POST_SECONDS = 12.0
FLOWING_AFTER = 5
BRIDGE_DOWN_S = 4.0


def test_events_lost_with_kafka_are_recovered_without_an_operator(
    stage_for: Callable[..., Stage], services: PrivateServices, report: Callable[[Row], None]
) -> None:
    stage = stage_for("kafka lost events, self-healed", STUCK_AFTER_SECONDS="5")
    stage.start_all()
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "kafka-loss")
    poster = load.start()
    wait_until(lambda: stage.finished(load.accepted) >= FLOWING_AFTER, timeout=60)
    stage.kill("bridge")
    time.sleep(BRIDGE_DOWN_S)  # the relay goes on publishing what nobody consumes
    published_unconsumed = len(load.accepted) - stage.finished(load.accepted)
    services.kafka.kill()
    services.kafka.start()  # empty: memory storage
    ensure_topics(stage.settings, partitions=3)
    stage.start("bridge")
    poster.join()

    settled = stage.wait_settled(load.accepted)
    redriven = stage.log_count("relay", "re-drove ")
    row = stage.conclude(
        load,
        started,
        unfinished_when_lost=published_unconsumed,
        self_healing_redrives=redriven,
    )
    report(row)
    assert published_unconsumed > 0, "nothing was lost: the scenario proved nothing"
    assert redriven > 0, "nothing was re-driven"
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
