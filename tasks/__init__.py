"""Dramatiq workers: `dramatiq tasks`.

Importing this package sets the Redis broker (no connection is opened until first use) and
declares the actors, as Dramatiq requires before any actor exists.
"""

from __future__ import annotations

from tasks.broker import setup_broker

broker = setup_broker()

from tasks.actors import (  # noqa: E402
    create_transaction,
    process_transaction,
    send_payment_email,
    settle_payment,
)

__all__ = [
    "broker",
    "create_transaction",
    "process_transaction",
    "send_payment_email",
    "settle_payment",
]
