"""Embedded Tansu broker and SMTP sink on free ports: a Kafka round trip and a stored message."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from devstack import embedded, probe
from devstack.procs import Child, free_port, wait_until
from devstack.settings import HostPort
from devstack.topics import ensure_topics

pytestmark = pytest.mark.integration


@pytest.fixture
def launch(tmp_path: Path) -> embedded.Launch:
    """Embedded services writing under a temporary run directory."""
    return embedded.Launch(tmp_path / "run", log_files=True)


@pytest.fixture
def kafka(launch: embedded.Launch) -> Iterator[str]:
    """An embedded Tansu broker; yields its bootstrap servers."""
    address = HostPort("127.0.0.1", free_port())
    child: Child = embedded.start_kafka(address, launch)
    try:
        yield f"{address.host}:{address.port}"
    finally:
        child.stop()
        assert not child.alive()


def test_kafka_round_trip(kafka: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    assert ensure_topics(kafka, ["DEVSTACK_A", "DEVSTACK_B"]) == ["DEVSTACK_A", "DEVSTACK_B"]
    assert ensure_topics(kafka, ["DEVSTACK_A"]) == []
    producer = KafkaProducer(bootstrap_servers=kafka)
    sent = producer.send(
        "DEVSTACK_A", key=b"payment-1", value=b'{"ok": true}', headers=[("ce_id", b"e1")]
    ).get(timeout=10)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=kafka, consumer_timeout_ms=5000)
    try:
        partitions = consumer.partitions_for_topic("DEVSTACK_A")
        assert partitions == {0, 1, 2}
        consumer.assign([TopicPartition("DEVSTACK_A", sent.partition)])
        consumer.seek_to_beginning()
        records = list(consumer)
    finally:
        consumer.close()
    assert [(r.key, r.value, r.headers) for r in records] == [
        (b"payment-1", b'{"ok": true}', [("ce_id", b"e1")])
    ]


def test_smtp_sink_stores_and_logs_each_message(launch: embedded.Launch) -> None:
    address = HostPort("127.0.0.1", free_port())
    child = embedded.start_smtp(address, launch)
    try:
        message = EmailMessage()
        message["From"] = "payments@example.com"
        message["To"] = "ana@example.com"
        message["Subject"] = "Pagamento aprovado"
        message.set_content("Olá, Ana")
        with smtplib.SMTP(address.host, address.port, timeout=5) as smtp:
            smtp.send_message(message)
        mail_dir = launch.run_dir / "mail"
        assert wait_until(lambda: any(mail_dir.glob("*.eml")), 5)
        stored = next(mail_dir.glob("*.eml")).read_text()
        assert "Subject: Pagamento aprovado" in stored
        log = launch.run_dir / "logs" / "smtp.log"
        assert wait_until(lambda: "subject='Pagamento aprovado'" in log.read_text(), 5)
        assert "to=ana@example.com" in log.read_text()
    finally:
        child.stop()
    assert not probe.smtp_answers(address)
