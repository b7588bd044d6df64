"""What the simulator answers for a payment method: Stripe's test payment methods, and the
contract's section 4 rule (even length succeeds, odd length is declined) for other tokens.

https://docs.stripe.com/testing#cards and #declined-payments
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stripesim.errors import invalid


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded, requires_action or declined
    code: str | None = None
    decline_code: str | None = None
    message: str | None = None


SUCCEEDED = Outcome("succeeded")
DECLINED = Outcome("declined", "card_declined", "generic_decline", "Your card was declined.")

TEST_PAYMENT_METHODS: dict[str, Outcome] = {
    "pm_card_visa": SUCCEEDED,
    "pm_card_mastercard": SUCCEEDED,
    "pm_card_amex": SUCCEEDED,
    "pm_card_chargeDeclined": DECLINED,
    "pm_card_chargeDeclinedInsufficientFunds": Outcome(
        "declined", "card_declined", "insufficient_funds", "Your card has insufficient funds."
    ),
    "pm_card_chargeDeclinedExpiredCard": Outcome(
        "declined", "expired_card", None, "Your card has expired."
    ),
    "pm_card_authenticationRequired": Outcome("requires_action"),
}


def outcome(payment_method: str) -> Outcome:
    """A test payment method's outcome; for any other token, section 4: even length
    succeeds, odd length is declined."""
    known = TEST_PAYMENT_METHODS.get(payment_method)
    if known is not None:
        return known
    return SUCCEEDED if len(payment_method) % 2 == 0 else DECLINED


def positive_amount(value: Any) -> int:
    """The `amount` parameter: a positive whole number of minor units (section 4, rule 1:
    an amount of 0 or less is invalid payment data)."""
    if value in (None, ""):
        raise invalid("Missing required param: amount.", "amount", "parameter_missing")
    try:
        amount = int(str(value))
    except ValueError:
        raise invalid("Invalid integer: amount", "amount", "parameter_invalid_integer") from None
    if amount < 1:
        raise invalid("Amount must be at least 1 minor unit.", "amount", "amount_too_small")
    return amount
