"""SQL for Idempotency-Key records (table `idempotency_keys`): claim, finish, release, purge.

A record is *live* until `expires_at`; an expired record counts as absent. A record whose
`response_status` is NULL belongs to a request still in flight; if that request died, the
record is abandoned once its lease (`locked_at` + lease) has passed and may be claimed again.
Every time comparison uses the database clock.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from payments.db.tables import idempotency_keys as keys
from payments.ports import StoredKey

__all__ = ["SqlIdempotencyStore", "StoredKey"]

PURGE_BATCH = 100


class SqlIdempotencyStore:
    """The `IdempotencyStore` port on a unit of work's connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def claim(
        self, scope: str, key: str, request_hash: str, ttl: timedelta, lease: timedelta
    ) -> UUID | None:
        """Take the key for a new request; its claim id, or None when a live record holds it.

        `INSERT ... ON CONFLICT`: a concurrent claimer waits for this transaction and then sees
        the record. An expired record, or an in-flight one whose lease has passed, is taken over.
        """
        claim_id = uuid.uuid4()
        now = func.now()
        insert = pg_insert(keys).values(
            scope=scope,
            key=key,
            request_hash=request_hash,
            claim_id=claim_id,
            locked_at=now,
            created_at=now,
            expires_at=now + ttl,
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[keys.c.scope, keys.c.key],
            set_={
                "request_hash": insert.excluded.request_hash,
                "claim_id": insert.excluded.claim_id,
                "locked_at": insert.excluded.locked_at,
                "created_at": insert.excluded.created_at,
                "expires_at": insert.excluded.expires_at,
                "response_status": None,
                "response_body": None,
                "payment_id": None,
            },
            where=or_(
                keys.c.expires_at <= now,
                and_(keys.c.response_status.is_(None), keys.c.locked_at < now - lease),
            ),
        ).returning(keys.c.claim_id)
        return self.conn.execute(stmt).scalar_one_or_none()

    def get(self, scope: str, key: str) -> StoredKey | None:
        """The live record of this key, or None (expired records count as absent)."""
        row = self.conn.execute(
            select(
                keys.c.request_hash, keys.c.response_status, keys.c.response_body, keys.c.payment_id
            )
            .where(keys.c.scope == scope, keys.c.key == key)
            .where(keys.c.expires_at > func.now())
        ).first()
        return StoredKey(*row) if row else None

    def finish(
        self,
        scope: str,
        key: str,
        claim_id: UUID,
        status: int,
        body: Any,
        payment_id: UUID | None,
    ) -> bool:
        """Store the response of the claimed request; False if the claim was lost meanwhile."""
        result = self.conn.execute(
            update(keys)
            .where(keys.c.scope == scope, keys.c.key == key, keys.c.claim_id == claim_id)
            .where(keys.c.response_status.is_(None))
            .values(response_status=status, response_body=body, payment_id=payment_id)
        )
        return result.rowcount == 1

    def release(self, scope: str, key: str, claim_id: UUID) -> None:
        """Forget an unfinished claim (its request failed), so that a retry can proceed."""
        self.conn.execute(
            delete(keys).where(
                keys.c.scope == scope,
                keys.c.key == key,
                keys.c.claim_id == claim_id,
                keys.c.response_status.is_(None),
            )
        )

    def purge_expired(self, limit: int = PURGE_BATCH) -> int:
        """Delete up to `limit` expired records (skipping rows others hold); how many went."""
        expired = (
            select(keys.c.scope, keys.c.key)
            .where(keys.c.expires_at <= func.now())
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result = self.conn.execute(
            delete(keys).where(tuple_(keys.c.scope, keys.c.key).in_(expired))
        )
        return result.rowcount
