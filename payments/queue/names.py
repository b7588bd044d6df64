"""The actors by name: which queue each one reads and which id it takes.

The single source of these names: `tasks` declares its actors with them, and every process
that only enqueues (the bridge, the sweep, `flask payments reprocess`) sends by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dramatiq
from dramatiq import Message


@dataclass(frozen=True)
class ActorRef:
    """An actor as a sender knows it: its name, its queue, the name of its one argument."""

    name: str
    queue: str
    argument: str

    def message(self, entity_id: str, **options: Any) -> Message[Any]:
        """A message for this actor about `entity_id`."""
        return Message(
            queue_name=self.queue,
            actor_name=self.name,
            args=(entity_id,),
            kwargs={},
            options=options,
        )


# The gateway queue holds the steps that wait on the gateway: the Procfile gives it a pool
# of its own, sized for rate x latency (docs/sizing.md), so that a slow gateway never takes
# a thread from the e-mails or the cancellations.
GATEWAY_QUEUE = "gateway"
CHARGE_PAYMENT = ActorRef("charge_payment", GATEWAY_QUEUE, "payment_id")
SEND_PAYMENT_EMAIL = ActorRef("send_payment_email", "email", "payment_id")

PROCESS_REFUND = ActorRef("process_refund", GATEWAY_QUEUE, "refund_id")
SEND_REFUND_EMAIL = ActorRef("send_refund_email", "email", "refund_id")
REFUND_CANCELLED_EVENT = ActorRef("refund_cancelled_event", "payments", "event_id")
# 3-D Secure (contract section 12): cancel a PaymentIntent whose authentication was not
# completed in time; refund a charge that succeeded for a payment that had failed.
EXPIRE_PAYMENT_ACTION = ActorRef("expire_payment_action", GATEWAY_QUEUE, "payment_id")
REFUND_STRAY_CHARGE = ActorRef("refund_stray_charge", GATEWAY_QUEUE, "gateway_reference")

ALL = (
    CHARGE_PAYMENT,
    EXPIRE_PAYMENT_ACTION,
    REFUND_STRAY_CHARGE,
    SEND_PAYMENT_EMAIL,
    PROCESS_REFUND,
    SEND_REFUND_EMAIL,
    REFUND_CANCELLED_EVENT,
)
BY_NAME = {actor.name: actor for actor in ALL}
QUEUES = tuple(dict.fromkeys(actor.queue for actor in ALL))


def send(broker: dramatiq.Broker, actor: ActorRef, entity_id: str, **options: Any) -> Any:
    """Enqueue one message for `actor` on `broker` (no actor need be declared here)."""
    return broker.enqueue(actor.message(entity_id, **options))
