"""What is still waiting in Dramatiq's Redis queues: so that self-healing re-drives only the
steps whose message is gone, never one that is merely queued behind a backlog.

Dramatiq's Redis broker keeps every message it has not acked in one hash per queue,
`<namespace>:<queue>.msgs` (waiting or being worked on), and one per delay queue,
`<namespace>:<queue>.DQ.msgs` (retries waiting for their backoff); dead letters are apart
(`.XQ.msgs`). Reading them costs one HSCAN pass per queue, proportional to what is queued,
and is done only when a sweep has candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import redis
from dramatiq import Message

QueuedStep = tuple[str, str]  # (actor name, the id it takes)


def queued_steps(client: redis.Redis, namespace: str, queues: Iterable[str]) -> set[QueuedStep]:
    """Every (actor name, argument) with a message waiting, running or delayed for a retry
    in `queues`; a message that cannot be decoded is not counted (it can never run)."""
    found: set[QueuedStep] = set()
    for queue in queues:
        for key in (f"{namespace}:{queue}.msgs", f"{namespace}:{queue}.DQ.msgs"):
            for _message_id, raw in client.hscan_iter(key, count=1000):
                step = _step(raw)
                if step is not None:
                    found.add(step)
    return found


def _step(raw: Any) -> QueuedStep | None:
    try:
        message = Message.decode(raw)
    except Exception:  # noqa: BLE001 - a foreign or damaged entry: not a step of ours
        return None
    if not message.args:
        return None
    return message.actor_name, str(message.args[0])
