"""How dead letters are described: one-line errors, never secrets."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime

from dramatiq import Message

from payments.errors import summary
from payments.queue.dead_letters import (
    DeadLetter,
    canonical_queue,
    summary_from_traceback,
)


def letter(**options: object) -> DeadLetter:
    message = Message(
        queue_name="payments",
        actor_name="charge_payment",
        args=("p-1",),
        kwargs={"payment_token": "TOKEN123", "note": "x"},
        options=dict(options),
    )
    return DeadLetter("r-1", "payments", message, datetime(2024, 5, 1, tzinfo=UTC))


def test_the_summary_is_the_first_line_only() -> None:
    err = RuntimeError("insert failed\n[parameters: {'payment_token': 'TOKEN123'}]")
    assert summary(err) == "RuntimeError: insert failed"
    assert summary(KeyError()) == "KeyError"
    assert len(summary(ValueError("x" * 1000))) == 200


def test_the_summary_of_a_traceback_is_its_final_exception() -> None:
    try:
        try:
            raise KeyError("first")
        except KeyError:
            raise ValueError("second\nwith token TOKEN123") from None
    except ValueError:
        tb = traceback.format_exc()
    assert summary_from_traceback(tb) == "ValueError: second"
    assert summary_from_traceback("no traceback here") is None


def test_the_error_shown_prefers_the_recorded_summary() -> None:
    assert letter(error="NotFound: payment p-1").error() == "NotFound: payment p-1"
    tb = 'Traceback (most recent call last):\n  File "x.py", line 1\nOSError: disk\n'
    assert letter(traceback=tb).error() == "OSError: disk"
    assert letter().error() == "-"


def test_arguments_mask_secret_looking_keywords() -> None:
    shown = letter().arguments()
    assert "TOKEN123" not in shown
    assert shown == '["p-1",{"payment_token":"***","note":"x"}]'


def test_delayed_queues_die_into_their_canonical_queue() -> None:
    assert canonical_queue("payments.DQ") == "payments"
    assert canonical_queue("email") == "email"
