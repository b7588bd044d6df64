"""The simulated gateway's decision rule (contract section 4), as a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payments.domain.model import Reason, Status
from payments.domain.secret import PaymentToken
from payments.errors import PaymentsError


class TransientGatewayError(PaymentsError):
    """The gateway did not answer this time, so the outcome is unknown; the call may be
    retried with the same idempotency key. `retry` is False when the gateway said a retry
    would only repeat the answer (Stripe-Should-Retry: false)."""

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


class GatewayRefused(PaymentsError):
    """The gateway refused the call for a reason no retry of it can change and that is not
    about the payment (a revoked API key, a conflicting idempotency key): nothing was
    charged; the step is retried by Dramatiq, then dead-lettered, the payment PENDING."""


@dataclass(frozen=True)
class Decision:
    """The gateway's answer to a charge: SUCCESS, FAILED with a reason, or PENDING while it
    waits for the cardholder (3-D Secure); its id of the charge and the issuer's decline
    code when it gave them."""

    status: Status
    reason: Reason | None = None
    reference: str | None = None
    decline_code: str | None = None
    client_secret: str | None = None  # PENDING only: what the front end's Stripe.js needs


def decide(
    token: PaymentToken | str | None, amount: Decimal, transient_roll: float, failure_rate: float
) -> Decision:
    """Decide a charge: invalid data, transient error, even token -> SUCCESS, odd -> rejected.

    `transient_roll` is a number in [0, 1) drawn by the caller; below `failure_rate` the
    gateway fails transiently (raises `TransientGatewayError`).
    """
    if not token or amount <= 0:
        return Decision(Status.FAILED, Reason.INVALID_PAYMENT_DATA)
    if transient_roll < failure_rate:
        raise TransientGatewayError("gateway unavailable, try again")
    if len(token) % 2 == 0:
        return Decision(Status.SUCCESS)
    return Decision(Status.FAILED, Reason.REJECTED_BY_GATEWAY)
