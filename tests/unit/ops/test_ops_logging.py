"""Log lines: one per event, with the ids that let an operator follow a payment."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker

from payments.config import Settings
from payments.logs import ContextFilter, JsonFormatter, TextFormatter
from payments.queue.middleware import LogEnqueue, named_ids


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON lines of the `payments` loggers, through the service's formatter and filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("payments")
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context_ids_and_stay_one_line() -> None:
    record = logging.LogRecord("payments.x", logging.INFO, "f", 1, "two\nlines", None, None)
    record.payment_id, record.ce_id = "p-1", "c-1"
    out = JsonFormatter().format(record)
    assert "\n" not in out
    line = json.loads(out)
    assert line["message"] == "two\nlines"
    assert (line["payment_id"], line["ce_id"], line["level"]) == ("p-1", "c-1", "INFO")
    assert "request_id" not in line


def test_text_lines_append_the_ids() -> None:
    record = logging.LogRecord("payments.x", logging.INFO, "f", 1, "hello", None, None)
    record.transaction_id, record.message_id = "t-1", "m-1"
    out = TextFormatter("%(message)s").format(record)
    assert out == "hello transaction_id=t-1 message_id=m-1"


def unreachable_settings() -> Settings:
    return Settings(database_url="postgresql+psycopg://root@127.0.0.1:9/none")


def test_each_request_is_one_line_with_its_request_and_payment_ids(
    captured: io.StringIO,
) -> None:
    from web import create_app

    app = create_app({"TESTING": True, "SETTINGS": unreachable_settings()})
    pid = uuid.uuid4()
    app.test_client().get(f"/payments/{pid}", headers={"X-Request-ID": "req-42"})
    app.test_client().get("/payments/not%0Aa-uuid", headers={"X-Request-ID": "req-43"})
    found = [x for x in lines(captured) if x["logger"] == "payments.http"]
    first = next(x for x in found if x.get("request_id") == "req-42")
    assert first["payment_id"] == str(pid)
    assert str(first["message"]).startswith(f"GET /payments/{pid} ")
    second = next(x for x in found if x.get("request_id") == "req-43")
    assert "payment_id" not in second
    assert "\n" not in str(second["message"])
    # the 503 the unreachable database causes is logged with the same request id
    assert any(
        x["logger"] == "payments.api" and x.get("request_id") == "req-42" for x in lines(captured)
    )


def test_enqueues_are_logged_with_the_actor_and_its_ids(captured: io.StringIO) -> None:
    broker = StubBroker()

    def process_refund(refund_id: str) -> None:
        """A stand-in actor."""

    import dramatiq

    actor = dramatiq.actor(process_refund, broker=broker, queue_name="payments")
    broker.add_middleware(LogEnqueue())
    message = actor.send_with_options(args=("t-9",), ce_id="c-9")
    assert named_ids(message) == {"refund_id": "t-9"}
    unknown = Message(queue_name="q", actor_name="nobody", args=(1,), kwargs={}, options={})
    assert named_ids(unknown) == {}
    line = next(x for x in lines(captured) if x["logger"] == "payments.enqueue")
    assert line["message"] == "enqueued process_refund"
    assert (line["refund_id"], line["ce_id"], line["message_id"]) == (
        "t-9",
        "c-9",
        message.message_id,
    )
    broker.close()
