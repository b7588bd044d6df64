"""Which step re-drives a payment, and how `--stuck-for` durations read."""

from __future__ import annotations

import uuid

import pytest

from payments.cli_support import parse_duration
from payments.domain.model import Status
from payments.ports import Progress
from payments.recovery import Redrive, Step, next_step

PID, TID = uuid.uuid4(), uuid.uuid4()


@pytest.mark.parametrize(
    ("payment", "tx", "emailed", "expected"),
    [
        (Status.PENDING, None, False, Redrive(PID, Step.CHARGE, PID)),
        (Status.PENDING, Status.PENDING, False, Redrive(PID, Step.CHARGE, PID)),
        (Status.PENDING, Status.SUCCESS, False, Redrive(PID, Step.CHARGE, PID)),
        (Status.PENDING, Status.FAILED, False, Redrive(PID, Step.CHARGE, PID)),
        (Status.SUCCESS, Status.SUCCESS, False, Redrive(PID, Step.NOTIFY, PID)),
        (Status.FAILED, Status.FAILED, False, Redrive(PID, Step.NOTIFY, PID)),
        (Status.SUCCESS, Status.SUCCESS, True, None),
        (Status.FAILED, Status.FAILED, True, None),
    ],
)
def test_next_step_follows_the_pipeline(payment, tx, emailed, expected) -> None:
    progress = Progress(PID, payment, TID if tx else None, tx, emailed)
    assert next_step(progress) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172800),
        ("250ms", 0.25),
        ("1.5m", 90),
        (" 10S ", 10),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "m", "5x", "-5m", "5m3", "five minutes"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
