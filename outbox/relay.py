"""The outbox relay: claims unpublished rows, publishes them, marks them after the broker's ack.

Guarantees, and what gives each one:

- Nothing marked published that Kafka did not acknowledge: the claimed rows stay locked in
  one PostgreSQL transaction while the batch is published (acks=all), and only the rows whose
  messages were acknowledged are marked, in that same transaction. A crash anywhere before
  the commit leaves the rows unpublished; they are published again (at least once).
- Per-payment order, even with several relays: rows are claimed with FOR UPDATE SKIP LOCKED,
  and a row is only claimed when no earlier unpublished row of the same key exists (see
  `SqlOutbox.claim`), so a batch holds at most one row per payment and a payment's next
  event can only be claimed once the previous one was acknowledged and marked. The producer
  keeps one request in flight per connection, so retries never reorder a partition.
- A batch that partly failed: the acknowledged rows are marked, the others wait for the next
  attempt (they are of other payments, so marking the first ones cannot break any order).
- Kafka or PostgreSQL not answering: exponential backoff (capped), then a fresh producer and
  a fresh LISTEN connection.
- SIGTERM: `stop` is checked between batches and during every wait; the current batch is
  finished (or abandoned by rollback) and nothing is lost either way.

New rows wake the relay through LISTEN/NOTIFY; a short poll is the safety net.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import psycopg
from sqlalchemy import Connection, Engine

from payments import backoff
from payments.adapters.publisher import PublishFailed
from payments.db.outbox_store import SqlOutbox
from payments.errors import summary
from payments.messages import OutboxMessage
from payments.ports import Publisher

log = logging.getLogger("payments.relay")


class OutboxStore(Protocol):
    """What the relay needs of the outbox, on a transaction's connection (`SqlOutbox`)."""

    def claim(self, limit: int) -> list[tuple[int, OutboxMessage]]: ...
    def mark_published(self, ids: Sequence[int]) -> None: ...


class Relay:
    """Moves outbox rows to Kafka, batch by batch."""

    def __init__(
        self,
        engine: Engine,
        publisher_factory: Callable[[], Publisher],
        batch_size: int = 500,
        poll_interval: float = 0.5,
        on_published: Callable[[int], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        retry: backoff.Backoff | None = None,
        store: Callable[[Connection], OutboxStore] = SqlOutbox,
    ):
        self.engine = engine
        self.publisher_factory = publisher_factory
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_published = on_published or (lambda n: None)
        self.on_error = on_error or (lambda err: None)
        self.retry = retry or backoff.Backoff()
        self.store = store
        self._publisher: Publisher | None = None
        self.published = 0

    def _get_publisher(self) -> Publisher:
        if self._publisher is None:
            self._publisher = self.publisher_factory()
        return self._publisher

    def _drop_publisher(self) -> None:
        if self._publisher is not None:
            with contextlib.suppress(Exception):  # a broken producer may fail to close
                self._publisher.close()
            self._publisher = None

    def run_once(self) -> int:
        """Publish one batch; return how many rows were claimed (0 when none was waiting).

        Raises when a message was not acknowledged, after marking those that were.
        """
        failure: PublishFailed | None = None
        publisher = self._get_publisher()  # connect before holding any row lock
        with self.engine.begin() as conn:
            outbox = self.store(conn)
            claimed = outbox.claim(self.batch_size)
            if not claimed:
                return 0
            try:
                publisher.publish([message for _, message in claimed])
                acked = [row_id for row_id, _ in claimed]
            except PublishFailed as err:
                acked = [claimed[i][0] for i in err.acked]
                failure = err
            outbox.mark_published(acked)
        self.published += len(acked)
        self.on_published(len(acked))
        if failure is not None:
            raise failure
        return len(claimed)

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; back off exponentially while Kafka or PostgreSQL fail."""
        listener: Any = None
        try:
            while not stop.is_set():
                try:
                    if listener is None:
                        listener = self._listen()
                    count = self.run_once()
                    failures = self.retry.reset()
                    if failures:
                        log.info("relay recovered after %d failed attempts", failures)
                    if count < self.batch_size:
                        self._wait(listener, stop)
                except Exception as err:  # one line per failure, then back off
                    self.on_error(err)
                    wait = self.retry.next_delay()
                    log.warning(
                        "relay attempt %d failed (%s); retrying in %.1fs",
                        self.retry.failures,
                        summary(err),
                        wait,
                    )
                    self._drop_publisher()
                    if listener is not None:
                        with contextlib.suppress(Exception):
                            listener.close()
                        listener = None
                    backoff.sleep(stop, wait)
        finally:
            if listener is not None:
                with contextlib.suppress(Exception):
                    listener.close()
            self._drop_publisher()

    def _listen(self) -> psycopg.Connection:
        url = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
        conn.execute("LISTEN outbox")
        return conn

    def _wait(self, listener: psycopg.Connection, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.poll_interval
        while not stop.is_set() and time.monotonic() < deadline:
            for _ in listener.notifies(timeout=min(0.25, self.poll_interval), stop_after=1):
                return
