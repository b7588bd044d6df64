"""Test payments: the place-payment command, a stored payment, the POST /payments body.

Each has one set of defaults (an even token, so the gateway approves) and a fresh e-mail
address per call; a test overrides only what it is about.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from payments import services
from payments.bootstrap import Container
from payments.domain.model import Payment


def new_email() -> str:
    """An e-mail address no other payment of the session has."""
    return f"fan-{uuid.uuid4().hex[:10]}@example.com"


def place_command(token: str = "TOKEN123", **overrides: Any) -> services.PlacePayment:
    """A valid `PlacePayment`; `overrides` replace its fields by name."""
    values: dict[str, Any] = {
        "user_name": "Ana",
        "user_email": new_email(),
        "user_language": "en",
        "event_id": "evt-1",
        "amount": Decimal("125.50"),
        "currency": "USD",
        "payment_token": token,
        "event_name": "Show",
        **overrides,
    }
    return services.PlacePayment(**values)


def place(
    container: Container,
    token: str = "TOKEN123",
    payment_id: uuid.UUID | None = None,
    **overrides: Any,
) -> Payment:
    """Store a PENDING payment with its payment.created event (with this id when given)."""
    command = place_command(token, **overrides)
    if payment_id is None:
        return services.place_payment(container.uow(), command)
    with container.uow() as uow:
        payment = Payment.place(payment_id, uow.clock(), **command.__dict__)
        uow.repo.add_payment(payment)
        uow.commit()
    return payment


def payment_body(**changes: Any) -> dict[str, Any]:
    """A valid POST /payments body with every field; a change to `...` leaves that field out."""
    body: dict[str, Any] = {
        "user_name": "Ana Souza",
        "user_email": new_email(),
        "event_id": "evt-42",
        "event_name": "Rock in Rio",
        "event_description": "Main stage",
        "event_image_url": "https://img.example/rock.png",
        "event_amount": "125.50",
        "payment_token": "TOKEN123",
        "user_language": "en",
        "currency": "USD",
        **changes,
    }
    return {name: value for name, value in body.items() if value is not ...}
