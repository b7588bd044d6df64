"""The e-mail actor's retry options: soon at first, then for over an hour of SMTP outage."""

from __future__ import annotations

import pytest
from dramatiq import common

from tasks.actors import send_payment_email

HOUR_MS = 3600 * 1000


def _delays(options: dict[str, object], pick: str) -> list[int]:
    """Dramatiq's own backoff for every retry, with its jitter at the low or the high end."""
    low = pick == "low"
    original = common.uniform
    common.uniform = lambda a, b: a if low else b  # type: ignore[assignment]
    try:
        return [
            common.compute_backoff(
                attempt, factor=options["min_backoff"], max_backoff=options["max_backoff"]
            )[1]
            for attempt in range(int(options["max_retries"]))  # type: ignore[call-overload]
        ]
    finally:
        common.uniform = original


def test_the_first_retry_comes_within_a_second() -> None:
    assert _delays(send_payment_email.options, "high")[0] <= 1000


def test_retries_go_on_for_at_least_an_hour_even_with_the_shortest_jitter() -> None:
    assert sum(_delays(send_payment_email.options, "low")) >= HOUR_MS


@pytest.mark.parametrize("pick", ["low", "high"])
def test_no_wait_is_longer_than_thirty_seconds(pick: str) -> None:
    assert max(_delays(send_payment_email.options, pick)) <= 30_000


def test_an_unknown_payment_is_not_retried() -> None:
    from payments.services import NotFound

    assert NotFound in send_payment_email.options["throws"]


def test_no_time_limit_can_cut_an_smtp_session_short() -> None:
    """A time limit landing after the server's 250 would send the e-mail twice: the actor's
    limit is above the longest SMTP session its socket timeouts allow."""
    from payments.adapters.mailer import SMTP_TIMEOUT_S

    exchanges = 12  # connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, body, QUIT...
    assert send_payment_email.options["time_limit"] > exchanges * SMTP_TIMEOUT_S * 1000 * 10


@pytest.mark.parametrize("latency_ms", [0, 30_000, 120_000])
def test_the_gateway_actors_time_limit_leaves_room_for_the_configured_latency(
    latency_ms: int,
) -> None:
    from tasks.actors import DB_TIME_LIMIT_MS, gateway_time_limit_ms

    assert gateway_time_limit_ms(latency_ms) >= latency_ms + DB_TIME_LIMIT_MS


def test_the_gateway_queue_actors_take_their_time_limit_from_the_settings_after_import() -> None:
    import tasks
    from tasks.actors import gateway_time_limit_ms, limit_gateway_calls

    before = {a.actor_name: a.options.get("time_limit") for a in tasks.broker.actors.values()}
    try:
        limit_gateway_calls(tasks.broker, 7_000)
        limits = {a.actor_name: a.options.get("time_limit") for a in tasks.broker.actors.values()}
        on_gateway = {n for n, a in tasks.broker.actors.items() if a.queue_name == "gateway"}
        assert on_gateway == {
            "charge_payment", "process_refund", "expire_payment_action", "refund_stray_charge"
        }  # fmt: skip
        assert all(limits[n] == gateway_time_limit_ms(7_000) for n in on_gateway)
        assert all(limits[n] == before[n] for n in limits if n not in on_gateway)
    finally:
        for name, limit in before.items():
            tasks.broker.get_actor(name).options["time_limit"] = limit
