"""docs/asyncapi.yaml describes what the service publishes (issue 30): a channel per topic, a
message per ce_type with the CloudEvents headers the relay sends, and payload schemas every
event the code writes satisfies (records relayed to real Kafka are checked in tests/e2e)."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import jsonschema_rs
import pytest

from devstack.procs import ROOT
from payments.config import Topics
from payments.domain import facts
from payments.domain.model import Payment
from payments.domain.refund import RefundReason
from payments.messages import kafka_headers, to_message
from tests.support.asyncapi import document, payload_schema
from tests.support.factories import place_command

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def every_event() -> list[tuple[facts.Fact, Payment, Any]]:
    payment = Payment.place(uuid.uuid4(), NOW, **place_command(event_name=None).__dict__)
    pid, tx = payment.id, uuid.uuid4()
    refund = SimpleNamespace(
        id=uuid.uuid4(),
        payment_id=pid,
        amount=Decimal("10.00"),
        currency=payment.currency,
        reason=RefundReason.REQUESTED_BY_CUSTOMER,
    )
    rid = refund.id
    return [
        (facts.PaymentCreated(pid), payment, None),
        (facts.TransactionCreated(tx, pid), payment, None),
        (facts.TransactionSucceeded(tx, pid), payment, None),
        (facts.TransactionFailed(tx, pid, "rejected_by_gateway"), payment, None),
        (facts.PaymentSucceeded(pid), payment, None),
        (facts.PaymentFailed(pid, "invalid_payment_data"), payment, None),
        (facts.RefundPending(rid, pid), payment, refund),
        (facts.RefundSucceeded(rid, pid), payment, refund),
        (facts.RefundFailed(rid, pid, "gateway_unavailable"), payment, refund),
        (facts.EventCancelled(payment.event_id, None), payment, None),
    ]


def test_a_channel_for_every_topic_and_a_message_for_every_event() -> None:
    doc = document()
    assert doc["asyncapi"].startswith("3.")
    topics = Topics()
    assert set(doc["channels"]) == set(topics.all())
    written = {to_message(e, p, topics, NOW, s).message_type for e, p, s in every_event()}
    assert {m["name"] for m in doc["components"]["messages"].values()} == written


@pytest.mark.parametrize("index", range(10))
def test_every_event_the_code_writes_fits_its_schema_and_channel(index: int) -> None:
    doc = document()
    event, payment, source = every_event()[index]
    message = to_message(event, payment, Topics(), NOW, source)
    validator = jsonschema_rs.validator_for(payload_schema(doc, message.message_type))
    errors = [e.message for e in validator.iter_errors(message.payload)]
    assert errors == [], (message.message_type, errors)
    channel = doc["channels"][message.topic]
    assert any(
        doc["components"]["messages"][ref["$ref"].rsplit("/", 1)[-1]]["name"]
        == message.message_type
        for ref in channel["messages"].values()
    )


def test_the_headers_are_the_cloudevents_ones_the_relay_sends() -> None:
    doc = document()
    event, payment, source = every_event()[0]
    sent = dict(kafka_headers(to_message(event, payment, Topics(), NOW, source)))
    schema = doc["components"]["schemas"]["CloudEventHeaders"]
    assert set(schema["required"]) == set(sent)
    decoded = {name: value.decode() for name, value in sent.items()}
    assert list(jsonschema_rs.validator_for(schema).iter_errors(decoded)) == []


def test_a_payload_missing_a_field_or_carrying_a_new_one_does_not_fit() -> None:
    doc = document()
    event, payment, source = every_event()[4]
    payload = dict(to_message(event, payment, Topics(), NOW, source).payload)
    validator = jsonschema_rs.validator_for(payload_schema(doc, "payment.succeeded"))
    assert validator.is_valid(payload)
    assert not validator.is_valid({k: v for k, v in payload.items() if k != "amount"})
    assert not validator.is_valid({**payload, "card_number": "4242"})


def _asyncapi_cli() -> str | None:
    local = ROOT / ".run" / "node" / "node_modules" / ".bin" / "asyncapi"  # .ci/run puts it here
    return str(local) if local.exists() else shutil.which("asyncapi")


@pytest.mark.skipif(
    _asyncapi_cli() is None,
    reason="the AsyncAPI CLI is not installed (npm install --prefix .run/node @asyncapi/cli)",
)
def test_the_asyncapi_cli_finds_the_document_valid() -> None:
    cli = _asyncapi_cli()
    assert cli is not None
    env = {**os.environ, "SUPPRESS_NO_CONFIG_WARNING": "1"}
    result = subprocess.run(
        [cli, "validate", str(ROOT / "docs/asyncapi.yaml")],
        capture_output=True, text=True, timeout=180, env=env, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "is valid" in result.stdout
