"""The payment token as a value that cannot leak by accident.

`repr`, `str` and f-strings show `***`; pickling, copying into a message and JSON encoding
refuse it (TypeError). The one way to the real value is `reveal()`, called only where the
token must go: the database column (until the gateway answered) and the gateway.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

MASK = "***"


class PaymentToken:
    """A payment token from the front end; compares and measures without revealing."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, PaymentToken):
            value = value.reveal()
        object.__setattr__(self, "_value", str(value))

    def reveal(self) -> str:
        """The token itself: for the gateway and the database column only."""
        value: str = object.__getattribute__(self, "_value")
        return value

    def __repr__(self) -> str:
        return f"PaymentToken('{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __len__(self) -> int:  # the gateway rule reads the token's length (contract 4)
        return len(self.reveal())

    def __bool__(self) -> bool:
        return bool(self.reveal())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PaymentToken):
            other = other.reveal()
        if not isinstance(other, str):
            return NotImplemented
        return hmac.compare_digest(self.reveal().encode(), other.encode())

    def __hash__(self) -> int:
        return hash(("PaymentToken", self.reveal()))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a payment token is immutable")

    def __copy__(self) -> PaymentToken:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> PaymentToken:
        return self

    def __reduce__(self) -> NoReturn:
        raise TypeError("a payment token is never serialized")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a payment token is never serialized")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a payment token is never serialized")
