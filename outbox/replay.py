"""Replaying already-published outbox events to Kafka, with their original CloudEvents ids.

Consumers deduplicate on `ce_id` or are idempotent (the actors are), so a replay can repair
a consumer that lost events without changing any payment twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine

from payments.db.outbox_store import SqlOutbox
from payments.messages import OutboxMessage
from payments.ports import Publisher

log = logging.getLogger("payments.replay")


def parse_since(text: str) -> datetime:
    """An ISO 8601 time; a time without a zone is taken as UTC. ValueError if unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2024-05-01T12:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_payment_id(text: str) -> str:
    """A payment id in canonical UUID form. ValueError if it is not a UUID."""
    try:
        return str(UUID(text.strip()))
    except ValueError:
        raise ValueError(f"{text!r} is not a payment id (a UUID)") from None


def select_events(
    engine: Engine,
    payment_id: str | None = None,
    since: datetime | None = None,
    topic: str | None = None,
) -> list[OutboxMessage]:
    """The already-published events matching the filters, in their original order."""
    with engine.connect() as conn:
        rows = SqlOutbox(conn).published(payment_id=payment_id, since=since, topic=topic)
    return [message for _, message in rows]


def republish(
    publisher: Publisher, messages: Sequence[OutboxMessage], batch_size: int = 100
) -> Iterator[int]:
    """Publish `messages` again, batch by batch, waiting for acks; yield each batch's size."""
    for start in range(0, len(messages), batch_size):
        batch = list(messages[start : start + batch_size])
        publisher.publish(batch)
        for m in batch:
            log.info(
                "replayed %s to %s",
                m.message_type,
                m.topic,
                extra={"payment_id": m.key, "ce_id": str(m.message_id), "topic": m.topic},
            )
        yield len(batch)
