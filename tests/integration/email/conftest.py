"""E-mail integration: the real renderer and FlaskMailer, a real SMTP server, real PostgreSQL.

These tests use a database of their own: the e2e stack of the same session relays every
outbox row of the session database, and its worker would mail these payments first.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from payments import services
from payments.bootstrap import Container, bootstrap
from payments.config import Settings
from payments.domain.gateway_rule import Decision
from payments.domain.model import Payment, Reason, Status
from payments.i18n import negotiate
from tests.support import env
from tests.support.smtp import SmtpServer
from tests.support.wiring import schema_engine


@pytest.fixture(scope="package")
def email_engine() -> Iterator[Engine]:
    """A fresh database with the schema, dropped afterwards."""
    with env.own_database("email") as url, schema_engine(url, pool_size=4) as engine:
        yield engine


@pytest.fixture
def email_container(settings: Settings, email_engine: Engine) -> Container:
    """The composition root on the e-mail tests' database."""
    return bootstrap(settings, engine=email_engine)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free loopback port."""
    server = SmtpServer(env.free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def mail_app(email_container: Container) -> Callable[[int], Container]:
    """A container on the e-mail database whose Flask-Mail really sends, to the SMTP port
    given."""

    def make(port: int) -> Container:
        settings = dataclasses.replace(
            email_container.settings, mail_server="127.0.0.1", mail_port=port
        )
        return bootstrap(settings, engine=email_container.engine)

    return make


@pytest.fixture
def finished(email_container: Container) -> Callable[..., Payment]:
    """A payment placed in `language` and taken to SUCCESS (or FAILED with a reason)."""

    def finish(
        language: str = "en",
        *,
        currency: str = "USD",
        amount: str = "125.50",
        reason: Reason | None = None,
        **details: Any,
    ) -> Payment:
        values: dict[str, Any] = {
            "user_name": "Ana Souza",
            "user_email": f"fan-{uuid.uuid4().hex[:10]}@example.com",
            "event_id": "evt-42",
            "event_name": "Rock in Rio",
            "event_image_url": "https://img.example/rock.png",
            **details,
        }
        command = services.PlacePayment(
            user_language=negotiate(language),
            amount=Decimal(amount),
            currency=currency,
            payment_token="TOKEN-SECRET-4242",
            **values,
        )
        placed = services.place_payment(email_container.uow(), command)
        tx = services.open_transaction(email_container.uow(), placed.id)
        assert tx is not None
        decision = Decision(Status.FAILED, reason) if reason else Decision(Status.SUCCESS)
        payment = services.record_decision(email_container.uow(), tx.id, decision)
        assert payment is not None
        return payment

    return finish


@pytest.fixture
def sent_kinds(email_engine: Engine) -> Callable[[uuid.UUID], list[str]]:
    """The kinds of e-mail recorded as sent for a payment."""

    def kinds(payment_id: uuid.UUID) -> list[str]:
        with email_engine.connect() as conn:
            rows = conn.execute(
                text("SELECT kind FROM sent_emails WHERE payment_id = :p ORDER BY kind"),
                {"p": payment_id},
            )
            return [row[0] for row in rows]

    return kinds
