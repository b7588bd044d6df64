"""The outbox relay: claims unpublished rows, publishes them, marks them after the broker's ack.

Several relays may run at once: rows are claimed with FOR UPDATE SKIP LOCKED, and a row is
only claimed when no earlier unpublished row of the same payment exists (see `claim`).
New rows wake the relay through LISTEN/NOTIFY; a short poll is the safety net.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine

from outbox import backoff
from payments.db import outbox_store
from payments.messages import OutboxMessage

log = logging.getLogger("payments.relay")


class Publisher(Protocol):
    def publish(self, messages: list[OutboxMessage]) -> None: ...
    def close(self) -> None: ...


class Relay:
    """Moves outbox rows to Kafka, batch by batch."""

    def __init__(
        self,
        engine: Engine,
        publisher_factory: Callable[[], Publisher],
        batch_size: int = 500,
        poll_interval: float = 0.5,
        on_published: Callable[[int], None] | None = None,
    ):
        self.engine = engine
        self.publisher_factory = publisher_factory
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.on_published = on_published or (lambda n: None)
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
        """Publish one batch; return how many rows were published (0 when none was waiting).

        The rows stay locked until the broker acknowledged every message; only then are they
        marked published, in the same transaction that claimed them.
        """
        with self.engine.begin() as conn:
            claimed = outbox_store.claim(conn, self.batch_size)
            if not claimed:
                return 0
            self._get_publisher().publish([m for _, m in claimed])
            outbox_store.mark_published(conn, [row_id for row_id, _ in claimed])
        self.published += len(claimed)
        self.on_published(len(claimed))
        return len(claimed)

    def run(self, stop: threading.Event) -> None:
        """Relay until `stop` is set; back off exponentially while Kafka or PostgreSQL fail."""
        failures = 0
        listener: Any = None
        try:
            while not stop.is_set():
                try:
                    if listener is None:
                        listener = self._listen()
                    count = self.run_once()
                    if failures:
                        log.info("relay recovered after %d failed attempts", failures)
                    failures = 0
                    if count < self.batch_size:
                        self._wait(listener, stop)
                except Exception as err:  # one line per failure, then back off
                    wait = backoff.delay(failures)
                    failures += 1
                    log.warning(
                        "relay attempt failed (%s: %s); retrying in %.1fs",
                        type(err).__name__,
                        str(err).splitlines()[0] if str(err) else "",
                        wait,
                    )
                    self._drop_publisher()
                    if listener is not None:
                        listener.close()
                        listener = None
                    backoff.sleep(stop, wait)
        finally:
            if listener is not None:
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
