"""`make bench-steps` measures every step of real payments on the real database."""

from __future__ import annotations

from sqlalchemy import Engine, text

from bench import steps
from payments.adapters.mailer import FakeMailer
from payments.bootstrap import bootstrap
from payments.config import Settings


def test_every_step_is_timed_on_payments_that_really_settle(
    settings: Settings, engine: Engine
) -> None:
    mailer = FakeMailer()
    container = bootstrap(settings, engine=engine, mailer=mailer)

    ms = steps.measure(container, payments=3, warmup=1)

    assert set(ms) == set(steps.STEPS)
    assert all(spent > 0 for spent in ms.values()), ms
    # each payment: its one result e-mail (notify), then the copy timed as render + send
    assert len(mailer.outbox) == 2 * 4
    assert {e.to for e in mailer.outbox} == {f"steps-{i}@bench.example" for i in range(4)}
    with engine.connect() as conn:
        settled = conn.execute(
            text(
                "SELECT count(*) FROM payments WHERE event_id = 'bench-steps' "
                "AND status <> 'PENDING' AND emailed_at IS NOT NULL"
            )
        ).scalar_one()
    assert settled >= 4
