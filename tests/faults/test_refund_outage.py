"""An event of 2,000 paid payments cancelled while the gateway refuses every refund for a
minute, then recovers (issue 24): no refund gives up, no fan is told anything untrue, and in
the end every fan has their whole payment back, with one e-mail, and no operator command.

The stage's gateway simulator starts with GATEWAY_TRANSIENT_FAILURE_RATE=1 (every call fails
as an unreachable gateway would: a 500, or the answer lost after the refund was made); after
OUTAGE_S it answers again, and the messages waiting in Redis, delayed by their backoff, are
taken up. The gateway's own count proves one refund per refund id.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import requests

from tests.support.cancellation import cancel_sold_out_event, refund_counts
from tests.support.faults import Stage
from tests.support.procs import wait_until
from tests.support.tally import Row

PAID = 2000
OUTAGE_S = 60.0
RECOVERY_TIMEOUT_S = 240.0


def test_refunds_ride_out_a_gateway_outage_without_an_operator(
    stage_for: Callable[..., Stage], report: Callable[[Row], None]
) -> None:
    stage = stage_for("refunds through a 60 s gateway outage", GATEWAY_TRANSIENT_FAILURE_RATE="1")
    event, started = cancel_sold_out_event(stage, "outage", PAID)

    created = wait_until(
        lambda: refund_counts(stage, event)["refunded_once"] == PAID or None, timeout=60
    )
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started)))
    during = refund_counts(stage, event)
    retried = stage.log_count("gateway", "gateway unavailable for a refund")
    stage.gateway.knobs(transient_failure_rate=0)

    def everyone_refunded() -> bool:
        counts = refund_counts(stage, event)
        return counts["succeeded"] == PAID and counts["emails_recorded"] == PAID

    done = wait_until(lambda: everyone_refunded() or None, timeout=RECOVERY_TIMEOUT_S, message="")
    time.sleep(2)  # a duplicate e-mail, if any, would arrive meanwhile
    counts = refund_counts(stage, event)
    at_gateway = stage.gateway.counts()["refunds_by_idempotency_key"]
    progress = requests.get(
        f"{stage.base_url}/events/{event}/cancellation", headers=stage.keys.back(), timeout=10
    ).json()
    row = Row(
        scenario=stage.name,
        accepted=PAID,
        terminal=counts["succeeded"] + counts["failed"],
        transactions_per_payment="-",
        status_changes_per_payment="-",
        emails_per_payment=f"{counts['emails_recorded']}/{PAID}",
        duplicate_emails=max(0, counts["emails_recorded"] - PAID),
        explained_duplicates=0,
        lost=counts["not_refunded"],
        seconds=round(time.monotonic() - started, 1),
        notes={
            "failed_attempts_during_outage": retried,
            "pending_at_recovery": during["pending"],
            "status": progress["status"],
            "gateway_refunds": sum(at_gateway.values()),
        },
    )
    report(row)
    assert created, "the cancellation did not create every refund"
    assert retried > PAID, "the gateway did not refuse the refunds: the outage proved nothing"
    # During the outage: every refund still PENDING, no fan told anything.
    assert (during["pending"], during["failed"], during["emails_recorded"]) == (PAID, 0, 0)
    assert done, f"not every fan refunded in time: {counts}"
    assert counts["refunded_once"] == PAID and counts["refunded_twice"] == 0, counts
    assert counts["failed"] == 0 and counts["pending"] == 0
    # The gateway's own count: one refund per refund id, whatever was lost and retried.
    assert len(at_gateway) == PAID and set(at_gateway.values()) == {1}, at_gateway
    assert progress["status"] == "COMPLETED" and progress["refunds_succeeded"] == PAID
