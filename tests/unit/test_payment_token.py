"""The payment token's type: masked wherever it is shown, refused wherever it would travel."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.domain.gateway_rule import decide
from payments.domain.model import Payment, Reason, Status
from payments.domain.secret import PaymentToken

TOKEN = "TOKEN-SECRET-1234"


def test_every_way_of_showing_it_is_masked(caplog: pytest.LogCaptureFixture) -> None:
    token = PaymentToken(TOKEN)
    shown = [repr(token), str(token), f"{token}", f"{token!r}", format(token, ">30")]
    shown.append("%s" % token)  # noqa: UP031 (the %-format logging uses)
    assert all(TOKEN not in text for text in shown)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("payments.test").info("token %s %r", token, token)
    assert TOKEN not in caplog.text
    payment = Payment.place(
        uuid.uuid4(),
        datetime.now(UTC),
        user_name="Ana",
        user_email="a@x.io",
        user_language="en",
        event_id="e",
        amount=Decimal("1.00"),
        currency="USD",
        payment_token=TOKEN,
    )
    assert isinstance(payment.payment_token, PaymentToken)
    assert TOKEN not in repr(payment) and TOKEN not in str(payment.__dict__)


def test_it_refuses_to_be_serialized() -> None:
    token = PaymentToken(TOKEN)
    with pytest.raises(TypeError):
        json.dumps({"payment_token": token})
    with pytest.raises(TypeError):
        pickle.dumps(token)
    with pytest.raises(AttributeError):
        token._value = "other"  # type: ignore[misc]


def test_it_still_answers_what_the_gateway_rule_asks() -> None:
    token = PaymentToken(TOKEN)
    assert token.reveal() == TOKEN and token == TOKEN and token == PaymentToken(TOKEN)
    assert copy.deepcopy(token) is token
    assert len(token) == len(TOKEN) and bool(PaymentToken("")) is False
    assert decide(PaymentToken("TOKEN123"), Decimal("1"), 1.0, 0.0).status is Status.SUCCESS
    odd = decide(PaymentToken("ODD12"), Decimal("1"), 1.0, 0.0)
    assert odd.reason is Reason.REJECTED_BY_GATEWAY


def test_a_token_of_a_token_is_the_same_token() -> None:
    assert PaymentToken(PaymentToken(TOKEN)).reveal() == TOKEN


def test_a_zero_failure_rate_never_fails_even_on_the_lowest_roll() -> None:
    assert decide(PaymentToken("TOKEN123"), Decimal("1"), 0.0, 0.0).status is Status.SUCCESS
