"""The API SIGKILLed mid-load while its clients retry with their Idempotency-Key (contract
section 7): each client gets exactly one payment and, in the end, its 201."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from sqlalchemy import text

from tests.support.faults import Stage
from tests.support.tally import Row, failures

PAYMENTS = 200
POST_SECONDS = 15.0
KILLS = 4


def test_api_killed_mid_load_gives_each_retrying_client_one_payment(
    stage_for: Callable[..., Stage], report: Callable[[Row], None], rng: random.Random
) -> None:
    stage = stage_for("sigkill api, clients retry")
    stage.start_all()
    started = time.monotonic()
    load = stage.load(PAYMENTS, POST_SECONDS, "api-kill")
    poster = load.start(threads=8)
    moments = sorted(rng.uniform(1.0, POST_SECONDS - 1.0) for _ in range(KILLS))
    for moment in moments:
        time.sleep(max(0.0, started + moment - time.monotonic()))
        stage.kill("api")
        time.sleep(rng.uniform(0.3, 1.5))
        stage.start("api")
    poster.join()

    settled = stage.wait_settled(load.accepted)
    with stage.engine.connect() as conn:
        per_client = dict(
            conn.execute(
                text(
                    "SELECT user_email, count(*) FROM payments "
                    "WHERE user_email LIKE '%api-kill%' GROUP BY user_email"
                )
            ).all()
        )
    emails = [o.email for o in load.outcomes]
    answered = load.status_counts()
    row = stage.conclude(
        load,
        started,
        api_kills=len([1 for _, label in stage.kills if label == "api"]),
        unanswered_tries=answered.get(0, 0),
        in_flight_409s=answered.get(409, 0),
        seed=getattr(rng, "seed_value", None),
    )
    report(row)
    assert answered.get(0, 0) > 0, "no request was cut by a kill: the scenario proved nothing"
    assert settled, f"not settled in time: {row}"
    assert failures(row, PAYMENTS) == []
    assert [per_client.get(e, 0) for e in emails] == [1] * PAYMENTS, "a client got 0 or 2"
