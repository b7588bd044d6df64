"""Every event delivered twice to every actor, then twice more after the payments finished.

Two bridges in two consumer groups each enqueue every event, so each actor receives each
message twice, interleaved. Once every payment is finished, the outbox is marked unpublished
again and the relay re-publishes every event (same ce_id): each actor receives everything
twice more, late and out of order. Nothing may change.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy import text

from tests.support.faults import Stage
from tests.support.tally import Row, failures

PAYMENTS = 100
POST_SECONDS = 10.0

# What each actor logs once per message it handles (tasks/actors.py).
ACTOR_LINES = {
    "charge_payment": ("payment SUCCESS", "payment FAILED", "payment already settled"),
    "send_payment_email": ("e-mail sent", "e-mail already sent"),
}


def deliveries(stage: Stage) -> Counter[str]:
    """Messages each actor handled, counted from the JSON logs of both Dramatiq pools."""
    counts: Counter[str] = Counter()
    logs = "\n".join(stage.processes[pool].output() for pool in ("worker", "gateway"))
    for line in logs.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("logger") != "payments.worker":
            continue
        for actor, prefixes in ACTOR_LINES.items():
            if record["message"].startswith(prefixes):
                counts[actor] += 1
    return counts


def test_every_event_delivered_twice_then_replayed_changes_nothing(
    stage_for: Callable[..., Stage], report: Callable[[Row], None]
) -> None:
    stage = stage_for("every event twice + replay")
    stage.start_all()
    stage.start("bridge-2", command="bridge", KAFKA_GROUP_ID=stage.env["KAFKA_GROUP_ID"] + "-2")
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "twice").run()
    accepted = load.accepted

    def handled_at_least(times: int) -> Callable[[], bool]:
        def check() -> bool:
            counts = deliveries(stage)
            return all(counts[actor] >= times * len(accepted) for actor in ACTOR_LINES)

        return check

    first = stage.wait_settled(accepted, extra=handled_at_least(2))
    after_first = deliveries(stage)
    with stage.engine.begin() as conn:
        replayed = conn.execute(text("UPDATE outbox SET published_at = NULL")).rowcount
    second = stage.wait_settled(accepted, extra=handled_at_least(4))
    counts = deliveries(stage)
    row = stage.conclude(
        load,
        started,
        bridges=2,
        replayed_events=replayed,
        handled_before_replay=dict(after_first),
        handled_in_all=dict(counts),
    )
    report(row)
    assert first and second, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    assert row.duplicate_emails == 0
