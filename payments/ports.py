"""The small interfaces the use cases need from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from payments.domain.gateway_rule import Decision
from payments.domain.model import Payment


class Gateway(Protocol):
    def charge(self, idempotency_key: UUID, token: str | None, amount: Decimal) -> Decision:
        """Charge the token; raises `TransientGatewayError` when it may be retried."""
        ...


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


class EmailRenderer(Protocol):
    def __call__(self, payment: Payment, kind: str) -> Email:
        """The e-mail of `kind` ('approved' or 'rejected') for a finished payment."""
        ...


class Mailer(Protocol):
    def send(self, email: Email) -> str:
        """Hand the e-mail to the SMTP server; return its Message-ID once accepted."""
        ...
