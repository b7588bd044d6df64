"""Contract section 5 as the downstream services read it: real records, relayed to real Kafka.

`clients` (Go) unmarshals PAYMENT_SUCCEEDED_TOPIC into a struct of strings and hands
`user_language` to `tickets`, which switches on it: `case 'pt'`, `case 'en'`, default
English. So in every event carrying the fan's language, `user_language` is the bare
language, the resolved locale travels as `user_locale`, and no field `clients` reads is a
number.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from outbox.relay import Relay
from payments import services
from payments.adapters.gateway import FakeGateway
from payments.adapters.publisher import KafkaPublisher
from payments.bootstrap import Container, bootstrap
from payments.config import Settings, Topics
from tests.support.delivery import new_topic, read_topic
from tests.support.factories import payment_body

# `InputProcessMessage` of janapc/event-tickets clients/internal/application/process_message.go
CLIENTS_STRUCT = (
    "user_name",
    "user_email",
    "event_id",
    "event_name",
    "event_description",
    "event_image_url",
    "user_language",
)


class GoUnmarshalError(ValueError):
    """What Go's encoding/json returns for a JSON type that does not fit the field."""


def decode_like_clients(value: bytes) -> dict[str, str]:
    """`json.Unmarshal` into that struct, then its `Validate`: every field a string (null
    leaves "", a number or object is an error), e-mail and event id required."""
    data = json.loads(value)
    if not isinstance(data, dict):
        raise GoUnmarshalError("cannot unmarshal into Go value of type struct")
    decoded = {}
    for name in CLIENTS_STRUCT:
        field = data.get(name)
        if field is None:
            decoded[name] = ""
        elif isinstance(field, str):
            decoded[name] = field
        else:
            kind = "number" if isinstance(field, int | float) else type(field).__name__
            raise GoUnmarshalError(f"cannot unmarshal {kind} into Go struct field .{name}")
    if not decoded["user_email"] or not decoded["event_id"]:
        raise GoUnmarshalError("email is required / eventId is required")
    return decoded


def tickets_template(language: str) -> str:
    """tickets/src/infra/mail/generate-ticket.mail.ts: `switch (language)`."""
    match language:
        case "pt":
            return "pt"
        case "en":
            return "en"
        case _:
            return "en"


def test_the_clients_decoder_refuses_what_go_refuses() -> None:
    good = {"user_email": "a@x", "event_id": "e", "user_language": "pt", "event_name": None}
    assert decode_like_clients(json.dumps(good).encode())["event_name"] == ""
    with pytest.raises(GoUnmarshalError):
        decode_like_clients(json.dumps({**good, "event_id": 42}).encode())
    with pytest.raises(GoUnmarshalError):
        decode_like_clients(json.dumps({**good, "user_email": None}).encode())


@pytest.fixture
def contract_container(settings: Settings, clean_outbox: Engine) -> Container:
    """The delivery database, with topics of this test only (nobody else consumes them)."""
    names = [new_topic(settings, partitions=1) for _ in range(6)]
    return bootstrap(
        dataclasses.replace(settings, topics=Topics(*names)),
        engine=clean_outbox,
        gateway=FakeGateway(),
    )


LANGUAGES = [
    # (user_language sent, Accept-Language, user_language in events, user_locale, tickets)
    ("pt-BR", None, "pt", "pt_BR", "pt"),
    ("pt-PT", None, "pt", "pt_PT", "pt"),
    ("es-MX", None, "es", "es_MX", "en"),  # tickets has no Spanish ticket: its default
    ("en-GB", None, "en", "en_GB", "en"),
    ("de", None, "en", "en", "en"),
    (None, None, "en", "en", "en"),
    (None, "pt-BR,pt;q=0.9", "pt", "pt_BR", "pt"),
]


def _post(app: Flask, tag: str | None, accept: str | None, token: str) -> dict[str, Any]:
    body = payment_body(payment_token=token, user_language=tag if tag else ...)
    headers = {"Accept-Language": accept} if accept else {}
    response = app.test_client().post("/payments", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _finish(container: Container, payment_id: str) -> None:
    services.charge_payment(container.uow(), container.gateway, uuid.UUID(payment_id))


def test_every_event_with_the_fans_language_reads_right_downstream(
    contract_container: Container,
) -> None:
    from web import create_app

    app = create_app({"TESTING": True, "CONTAINER": contract_container})
    expected: dict[str, tuple[str, str, str]] = {}
    for index, (tag, accept, language, locale, template) in enumerate(LANGUAGES):
        token = "TOKEN123" if index % 2 == 0 else "ODD12"  # succeeded and failed payments
        created = _post(app, tag, accept, token)
        assert created["user_language"] == locale  # the resource keeps the resolved locale
        _finish(contract_container, created["id"])
        expected[created["id"]] = (language, locale, template)

    servers = contract_container.settings.kafka_bootstrap_servers
    relay = Relay(contract_container.engine, lambda: KafkaPublisher(servers, timeout_s=15))
    try:
        while relay.run_once():
            pass
    finally:
        relay._drop_publisher()

    topics = contract_container.settings.topics
    succeeded = (len(LANGUAGES) + 1) // 2  # even positions got an even token
    carrying = {
        topics.payment_created: len(LANGUAGES),
        topics.payment_succeeded: succeeded,
        topics.payment_failed: len(LANGUAGES) - succeeded,
    }
    seen: dict[str, int] = {}
    for topic, count in carrying.items():
        for record in read_topic(contract_container.settings, topic, count):
            value = json.loads(record.value)
            language, locale, template = expected[value["payment_id"]]
            assert (value["user_language"], value["user_locale"]) == (language, locale)
            decoded = decode_like_clients(record.value)  # raises where Go would
            assert tickets_template(decoded["user_language"]) == template
            assert isinstance(value["amount"], str)
            seen[topic] = seen.get(topic, 0) + 1
    assert seen == carrying
