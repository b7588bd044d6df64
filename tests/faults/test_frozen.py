"""Frozen, not dead: a worker pool, a gateway pool, a bridge and a relay stopped with SIGSTOP
past every timeout while a twin of each carries on, then resumed (contract section 7).

Frozen for longer than Dramatiq's heartbeat (its unacked messages are requeued to the twin
pools) and the bridge's Kafka session (its partitions go to the twin bridge, which consumes
again from the last committed offsets), with charges and e-mails in flight. On resume each
frozen process finishes what it held: every payment must still end with one transaction, one
terminal status change and one e-mail. No process died, so no duplicate e-mail is excused.

One charge at the gateway per payment is asked of the same way: every charge of a payment is
made with its one transaction's id as the idempotency key, so a twin and a resumed process
ask the gateway the same question (one transaction per payment is what is counted here; the
gateway is in-process until it is reached over HTTP).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

from payments.queue.broker import HEARTBEAT_TIMEOUT_MS
from tests.support.faults import Stage
from tests.support.procs import wait_until
from tests.support.tally import Row, failures

PAYMENTS = 150
POST_SECONDS = 15.0
FROZEN = ("worker", "gateway", "bridge", "relay")
BRIDGE_SESSION_TIMEOUT_S = 10.0  # bridge.consumer.make_consumer
FREEZE_S = max(HEARTBEAT_TIMEOUT_MS / 1000, BRIDGE_SESSION_TIMEOUT_S) + 5.0


def test_processes_frozen_past_every_timeout_then_resumed_double_nothing(
    stage_for: Callable[..., Stage], report: Callable[[Row], None]
) -> None:
    # A slow gateway keeps charges in flight in the gateway pool when it freezes.
    stage = stage_for("frozen past timeouts, twins on", GATEWAY_LATENCY_MS="300")
    stage.start_all()
    for label in FROZEN:
        stage.start(f"{label}-twin", command=label)
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "frozen")
    poster = load.start()
    wait_until(lambda: stage.finished(load.accepted) >= 10, timeout=60)

    for label in FROZEN:
        stage.processes[label].kill(signal.SIGSTOP)
    before = stage.finished(load.accepted)
    time.sleep(FREEZE_S)
    during = stage.finished(load.accepted) - before  # the twins carried on
    for label in FROZEN:
        stage.processes[label].kill(signal.SIGCONT)
    poster.join()

    settled = stage.wait_settled(load.accepted)
    row = stage.conclude(
        load, started, frozen_s=FREEZE_S, finished_while_frozen=during, twins=len(FROZEN)
    )
    report(row)
    assert during > 0, "nothing finished while the originals were frozen: no twin took over"
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    assert row.duplicate_emails == 0, "no process died: a second e-mail is never excused"
    codes = stage.stop_all()
    assert all(codes[label] == 0 for label in ("relay", "bridge")), f"unclean stop: {codes}"
