"""The relay with a fake outbox and a fake publisher: batches, acks, backoff, stop."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from outbox.relay import Relay
from payments import backoff
from payments.adapters.publisher import FakePublisher, PublishFailed
from payments.messages import OutboxMessage


class FakeConn:
    """A transaction: marks become visible only when it commits."""

    def __init__(self) -> None:
        self.marked: list[int] = []


class FakeOutbox:
    """Rows in id order; claim mimics the real one (oldest first, one per key, skip held)."""

    def __init__(self) -> None:
        self.rows: dict[int, OutboxMessage] = {}
        self.published: set[int] = set()
        self.held: set[int] = set()

    def add(self, key: str, n: int = 1) -> None:
        for _ in range(n):
            row_id = len(self.rows) + 1
            self.rows[row_id] = OutboxMessage(
                uuid.uuid4(), "T", "t", key, {"n": row_id}, datetime.now(UTC)
            )

    def claim(self, conn: FakeConn, limit: int) -> list[tuple[int, OutboxMessage]]:
        claimed: list[tuple[int, OutboxMessage]] = []
        blocked_keys: set[str] = set()
        for row_id, message in sorted(self.rows.items()):
            if row_id in self.published:
                continue
            if message.key in blocked_keys or row_id in self.held:
                blocked_keys.add(message.key)
                continue
            blocked_keys.add(message.key)
            claimed.append((row_id, message))
            if len(claimed) == limit:
                break
        self.held.update(row_id for row_id, _ in claimed)
        return claimed

    def mark_published(self, conn: FakeConn, ids: Sequence[int]) -> None:
        conn.marked.extend(ids)

    def on(self, conn: FakeConn) -> FakeOutboxOn:
        """The outbox on one transaction's connection, as the relay asks for it."""
        return FakeOutboxOn(self, conn)

    def unpublished(self) -> list[int]:
        return [row_id for row_id in sorted(self.rows) if row_id not in self.published]


class FakeOutboxOn:
    def __init__(self, outbox: FakeOutbox, conn: FakeConn) -> None:
        self.outbox, self.conn = outbox, conn

    def claim(self, limit: int) -> list[tuple[int, OutboxMessage]]:
        return self.outbox.claim(self.conn, limit)

    def mark_published(self, ids: Sequence[int]) -> None:
        self.outbox.mark_published(self.conn, ids)


class FakeEngine:
    """`begin()` commits the marks on success and drops them on an exception."""

    def __init__(self, outbox: FakeOutbox) -> None:
        self.outbox = outbox
        self.down = False

    @contextlib.contextmanager
    def begin(self) -> Iterator[FakeConn]:
        if self.down:
            raise ConnectionRefusedError("database down")
        conn = FakeConn()
        try:
            yield conn
            self.outbox.published.update(conn.marked)
        finally:
            self.outbox.held.clear()


class QuietRelay(Relay):
    """No LISTEN connection: the wait is a short sleep."""

    def _listen(self) -> Any:
        return object()

    def _wait(self, listener: Any, stop: threading.Event) -> None:
        stop.wait(0.001)


@pytest.fixture
def outbox() -> FakeOutbox:
    return FakeOutbox()


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


def relay(outbox: FakeOutbox, publisher: FakePublisher, batch_size: int = 10) -> QuietRelay:
    return QuietRelay(
        FakeEngine(outbox),  # type: ignore[arg-type]
        lambda: publisher,
        batch_size=batch_size,
        store=outbox.on,  # type: ignore[arg-type]
        retry=backoff.Backoff(base=0.001, cap=0.01),
    )


def test_publishes_in_batches_and_marks_only_after_publishing(outbox, publisher) -> None:
    for i in range(25):
        outbox.add(f"payment-{i}")
    r = relay(outbox, publisher)

    assert [r.run_once() for _ in range(4)] == [10, 10, 5, 0]
    assert [m.payload["n"] for m in publisher.sent] == list(range(1, 26))
    assert outbox.unpublished() == []
    assert r.published == 25


def test_one_event_per_payment_per_batch_so_order_is_kept(outbox, publisher) -> None:
    outbox.add("a", 3)
    outbox.add("b", 2)
    r = relay(outbox, publisher)

    assert r.run_once() == 2  # a#1 and b#1: a#2 waits until a#1 was acknowledged
    while r.run_once():
        pass
    per_key = {k: [m.payload["n"] for m in publisher.sent if m.key == k] for k in "ab"}
    assert per_key == {"a": [1, 2, 3], "b": [4, 5]}


def test_nothing_is_marked_when_the_broker_does_not_answer(outbox, publisher) -> None:
    outbox.add("a")
    outbox.add("b")
    publisher.down = True
    r = relay(outbox, publisher)

    with pytest.raises(ConnectionError):
        r.run_once()
    assert outbox.unpublished() == [1, 2]
    assert r.published == 0


def test_a_partly_acknowledged_batch_marks_only_the_acknowledged_rows(outbox, publisher) -> None:
    for key in "abcde":
        outbox.add(key)
    publisher.ack_only = 2
    r = relay(outbox, publisher)

    with pytest.raises(PublishFailed):
        r.run_once()
    assert outbox.unpublished() == [3, 4, 5]
    assert r.run_once() == 3
    assert [m.payload["n"] for m in publisher.sent] == [1, 2, 3, 4, 5]


def test_backs_off_exponentially_while_kafka_is_down_then_catches_up(
    outbox, publisher, monkeypatch
) -> None:
    outbox.add("a", 2)
    publisher.down = True
    stop = threading.Event()
    waits: list[float] = []

    def fake_sleep(event: threading.Event, seconds: float) -> bool:
        waits.append(seconds)
        if len(waits) == 5:
            publisher.down = False
        return event.is_set()

    monkeypatch.setattr(backoff, "sleep", fake_sleep)
    monkeypatch.setattr(backoff, "delay", lambda attempt, base, cap: min(cap, base * 2**attempt))
    r = QuietRelay(
        FakeEngine(outbox),  # type: ignore[arg-type]
        lambda: publisher,
        store=outbox.on,  # type: ignore[arg-type]
        retry=backoff.Backoff(base=1.0, cap=8.0),
    )
    r.on_published = lambda n: stop.set() if not outbox.unpublished() else None

    thread = threading.Thread(target=r.run, args=(stop,))
    thread.start()
    thread.join(5)

    assert not thread.is_alive()
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert outbox.unpublished() == []
    assert r.retry.failures == 0


def test_a_database_outage_is_retried_too(outbox, publisher, monkeypatch) -> None:
    outbox.add("a")
    engine = FakeEngine(outbox)
    engine.down = True
    stop = threading.Event()

    def fake_sleep(event: threading.Event, seconds: float) -> bool:
        engine.down = False
        return event.is_set()

    monkeypatch.setattr(backoff, "sleep", fake_sleep)
    r = QuietRelay(engine, lambda: publisher, store=outbox.on)  # type: ignore[arg-type]
    r.on_published = lambda n: stop.set()
    r.run(stop)
    assert outbox.unpublished() == []


def test_stop_ends_the_loop_and_closes_the_publisher(outbox) -> None:
    closed = threading.Event()

    class ClosingPublisher(FakePublisher):
        def close(self) -> None:
            closed.set()

    publisher = ClosingPublisher()
    outbox.add("a")
    stop = threading.Event()
    published = threading.Event()
    r = relay(outbox, publisher)
    r.on_published = lambda n: published.set()
    thread = threading.Thread(target=r.run, args=(stop,))
    thread.start()
    assert published.wait(2)
    stop.set()
    thread.join(2)
    assert not thread.is_alive()
    assert closed.is_set()
