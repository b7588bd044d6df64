"""A backlog is not a loss (issue 26): 3,000 payments wait in Redis far longer than
STUCK_AFTER_SECONDS while the gateway pool is down, and the self-healing sweep re-drives
none of them (their messages are still queued); then, halfway through the drain, Redis is
restarted empty, and the sweep re-drives what that lost: nothing is lost or doubled.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.faults import Stage
from tests.support.private import PrivateServices
from tests.support.procs import wait_until
from tests.support.tally import Row, failures

PAYMENTS = 3000
POST_SECONDS = 20.0
STUCK_AFTER_S = 5
BACKLOG_HELD_S = 25.0  # five idle periods with every charge queued


def test_a_backlog_is_never_redriven_and_a_real_loss_still_is(
    stage_for: Callable[..., Stage], services: PrivateServices, report: Callable[[Row], None]
) -> None:
    stage = stage_for("backlog of 3000, then redis wiped", STUCK_AFTER_SECONDS=str(STUCK_AFTER_S))
    stage.start_all()
    stage.processes["gateway"].stop(timeout=30)  # the charges pile up in Redis
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "backlog").run()
    time.sleep(BACKLOG_HELD_S)
    redriven_in_backlog = stage.log_count("relay", "re-drove ")
    queued_in_backlog = stage.queued_messages()

    stage.start("gateway-back", command="gateway")
    wait_until(lambda: stage.finished(load.accepted) >= PAYMENTS // 2, timeout=120)
    wiped_with = stage.queued_messages()
    services.redis.kill()
    services.redis.start()  # empty: what was queued is gone
    settled = stage.wait_settled(load.accepted)
    redriven_after_wipe = stage.log_count("relay", "re-drove ") - redriven_in_backlog
    row = stage.conclude(
        load,
        started,
        queued_in_backlog=queued_in_backlog,
        redriven_in_backlog=redriven_in_backlog,
        lost_with_redis=wiped_with,
        redriven_after_wipe=redriven_after_wipe,
    )
    report(row)
    assert queued_in_backlog >= PAYMENTS * 0.9, "no backlog: the scenario proved nothing"
    assert redriven_in_backlog == 0, "queued payments were re-driven: duplicate messages"
    assert wiped_with > 0 and redriven_after_wipe > 0, "nothing lost, or the loss not healed"
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
