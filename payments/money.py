"""Money as each currency defines it: its decimals (ISO 4217, from Babel's data) and limits.

Amounts are `Decimal`, never float. The database keeps four decimals (the most any ISO 4217
currency has: CLF, UYW); everything the service shows or sends is quantized to the
currency's own decimals, so that `KWD 12.345` stays `12.345` and `USD 125.50` `125.50`.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_currency_precision

MAX_STORED_PLACES = 4  # payments.amount is numeric(14, 4)
MAX_UNITS = Decimal("9999999999")  # ten digits before the decimal point


def decimals(currency: str) -> int:
    """The currency's minor-unit digits: 2 for USD, 0 for JPY, 3 for KWD, 4 for CLF."""
    return min(get_currency_precision(currency.upper()), MAX_STORED_PLACES)


def quantum(currency: str) -> Decimal:
    """The currency's smallest unit as an exponent: Decimal('0.01') for USD."""
    return Decimal(1).scaleb(-decimals(currency))


def exact(amount: Decimal, currency: str) -> Decimal:
    """`amount` written with exactly the currency's decimals (it must not have more)."""
    return amount.quantize(quantum(currency))


def maximum(currency: str) -> Decimal:
    """The largest amount accepted: 9999999999.99 for USD, 9999999999.999 for KWD."""
    places = decimals(currency)
    return MAX_UNITS + (1 - quantum(currency)) if places else MAX_UNITS


def places_of(amount: Decimal) -> int:
    """How many decimals `amount` is written with (Decimal('1.50') -> 2)."""
    exponent = amount.as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


# The payment gateway's minor units (contract section 12): Stripe counts most currencies in
# their ISO 4217 minor units, with two exceptions it keeps as two-decimal values whose
# decimals are always 00 (ISK and UGX), and it charges three-decimal currencies only in
# multiples of ten minor units (the last digit must be 0).
# https://docs.stripe.com/currencies#special-cases
GATEWAY_TWO_DECIMAL_WHOLE = frozenset({"ISK", "UGX"})
GATEWAY_ROUNDS_TO_TENS = 3  # the decimals at which Stripe rounds to a multiple of ten


def gateway_chargeable(amount: Decimal, currency: str) -> bool:
    """Whether the gateway can charge `amount` exactly in `currency` (KWD 12.345 it cannot:
    it would round it to 12.340 or 12.350)."""
    if decimals(currency) == GATEWAY_ROUNDS_TO_TENS:
        return amount == amount.quantize(Decimal("0.01"))
    return True


def minor_units(amount: Decimal, currency: str) -> int:
    """`amount` in the gateway's minor units: USD 125.50 -> 12550, JPY 500 -> 500,
    KWD 12.340 -> 12340, ISK 500 -> 50000. ValueError when it is not a whole number of them."""
    code = currency.upper()
    places = 2 if code in GATEWAY_TWO_DECIMAL_WHOLE else decimals(code)
    units = amount.scaleb(places)
    if units != units.to_integral_value():
        raise ValueError(f"{code} {amount} is not a whole number of minor units")
    return int(units)


def from_minor_units(units: int, currency: str) -> Decimal:
    """The inverse of `minor_units`, written with the currency's own decimals."""
    code = currency.upper()
    places = 2 if code in GATEWAY_TWO_DECIMAL_WHOLE else decimals(code)
    return exact(Decimal(units).scaleb(-places), code)
