"""Dramatiq workers: `dramatiq tasks`.

Importing this package builds the worker's container from the settings (nothing connects
yet), installs its broker as Dramatiq's global one and declares the actors, as Dramatiq
requires before any actor exists, then gives the gateway's actors their time limit from the
settings (the actor modules read none). No other process imports it: they enqueue by name
(`payments.queue.names`).
"""

from __future__ import annotations

from payments import bootstrap
from tasks import runtime

broker = runtime.start()

from tasks.action_actors import (  # noqa: E402
    expire_payment_action,
    refund_stray_charge,
)
from tasks.actors import (  # noqa: E402
    charge_payment,
    limit_gateway_calls,
    send_payment_email,
)
from tasks.refund_actors import (  # noqa: E402
    process_refund,
    refund_cancelled_event,
    send_refund_email,
)

limit_gateway_calls(broker, bootstrap.install_from_env().settings.gateway_timeout_ms)

__all__ = [
    "broker",
    "expire_payment_action",
    "refund_stray_charge",
    "charge_payment",
    "send_payment_email",
    "process_refund",
    "send_refund_email",
    "refund_cancelled_event",
]
