"""The unit of work: the only thing that commits. Leaving it without `commit()` rolls back.

On commit it turns the events recorded by every aggregate it loaded or added into outbox
rows, in the same PostgreSQL transaction as the state change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import Connection, Engine

from payments.config import Topics
from payments.db.idempotency_store import SqlIdempotencyStore
from payments.db.outbox_store import SqlOutbox
from payments.db.refunds import SqlRefunds
from payments.db.repository import SqlRepository
from payments.messages import OutboxMessage, collect_messages, utcnow


class SqlUnitOfWork:
    """A PostgreSQL transaction with a repository on it."""

    repo: SqlRepository
    refunds: SqlRefunds
    idempotency: SqlIdempotencyStore
    conn: Connection

    def __init__(self, engine: Engine, topics: Topics, clock: Callable[[], datetime] = utcnow):
        self.engine, self.topics, self.clock = engine, topics, clock
        self._autocommit = False

    def __enter__(self) -> SqlUnitOfWork:
        self.conn = self.engine.connect()
        if self._autocommit:
            self.conn = self.conn.execution_options(isolation_level="AUTOCOMMIT")
        self._tx = self.conn.begin()
        self.repo = SqlRepository(self.conn)
        self.refunds = SqlRefunds(self.conn, self.repo.seen)
        self.idempotency = SqlIdempotencyStore(self.conn)
        self.messages: list[OutboxMessage] = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self.conn.close()

    @contextmanager
    def reading(self) -> Iterator[SqlUnitOfWork]:
        """A block that only reads, outside any transaction: each statement sees what was
        committed when it ran, and the block costs no BEGIN and no COMMIT round trip."""
        self._autocommit = True
        try:
            with self:
                yield self
        finally:
            self._autocommit = False

    def commit(self) -> None:
        """Write the outbox rows for the recorded events, then commit everything at once."""
        self.messages = collect_messages(self.repo.seen, self.topics, self.clock())
        SqlOutbox(self.conn).write(self.messages)
        self._tx.commit()
