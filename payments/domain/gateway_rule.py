"""The simulated gateway's decision rule (contract section 4), as a pure function."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payments.domain.model import Reason, Status
from payments.domain.secret import PaymentToken
from payments.errors import PaymentsError


class TransientGatewayError(PaymentsError):
    """The gateway did not answer this time; the call may be retried."""


@dataclass(frozen=True)
class Decision:
    status: Status
    reason: Reason | None = None


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
