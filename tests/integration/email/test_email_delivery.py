"""Exactly one e-mail per finished payment, even when the SMTP server is down for a while."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Callable, Iterator
from uuid import UUID

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage, Middleware

from payments import bootstrap, services
from payments.adapters import mailer
from payments.bootstrap import Container
from payments.domain.model import Payment
from tests.support import env
from tests.support.smtp import SmtpServer, parts


def notify(container: Container, mail: Container, payment_id: UUID) -> str | None:
    return services.notify(mail.uow(), mail.renderer, mail.mailer, payment_id)


def test_a_user_name_holding_html_is_escaped_in_the_html_part_only(
    email_container: Container,
    mail_app: Callable[[int], Container],
    smtp: SmtpServer,
    finished: Callable[..., Payment],
) -> None:
    name = '<img src=x onerror="alert(1)"> Ana & Bia'
    event = "<b>Rock</b> & Roll"
    payment = finished("en", user_name=name, event_name=event)

    notify(email_container, mail_app(smtp.port), payment.id)

    [mail] = smtp.wait_for(payment.user_email)
    text, html = parts(mail)
    assert mail["Subject"] == f"Payment approved: {event}"
    assert f"Hi {name}," in text and f"Event: {event}" in text
    assert "<img src=x" not in html and "<b>Rock" not in html
    assert "Hi &lt;img src=x onerror=&#34;alert(1)&#34;&gt; Ana &amp; Bia," in html
    assert "&lt;b&gt;Rock&lt;/b&gt; &amp; Roll" in html


def test_smtp_down_then_up_sends_once_after_it_returns(
    email_container: Container,
    mail_app: Callable[[int], Container],
    finished: Callable[..., Payment],
    sent_kinds: Callable[[UUID], list[str]],
) -> None:
    port = env.free_port()  # nothing listens there yet
    app = mail_app(port)
    payment = finished("pt-BR", currency="BRL")

    for _attempt in range(2):
        with pytest.raises(OSError):
            notify(email_container, app, payment.id)
        assert sent_kinds(payment.id) == []

    smtp = SmtpServer(port).start()
    try:
        message_id = notify(email_container, app, payment.id)
        assert notify(email_container, app, payment.id) is None  # a redelivery
        [mail] = smtp.wait_for(payment.user_email)
    finally:
        smtp.stop()
    assert mail["Message-ID"] == message_id
    assert mail["Subject"] == "Pagamento aprovado: Rock in Rio"
    assert sent_kinds(payment.id) == ["approved"]


def test_a_silent_smtp_server_times_out_into_a_retry(
    email_container: Container,
    mail_app: Callable[[int], Container],
    finished: Callable[..., Payment],
    sent_kinds: Callable[[UUID], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mailer, "SMTP_TIMEOUT_S", 0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def accept_and_say_nothing() -> None:
        conn, _address = listener.accept()
        done.wait(10)  # without the timeout the client would wait this long, then fail otherwise
        conn.close()

    threading.Thread(target=accept_and_say_nothing, daemon=True).start()
    payment = finished("en")
    try:
        with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
            notify(email_container, mail_app(listener.getsockname()[1]), payment.id)
    finally:
        done.set()
        listener.close()
    assert sent_kinds(payment.id) == []


def test_two_deliveries_at_once_send_one_email(
    email_container: Container,
    mail_app: Callable[[int], Container],
    smtp: SmtpServer,
    finished: Callable[..., Payment],
) -> None:
    app = mail_app(smtp.port)
    payment = finished("es")
    results: list[str | None] = []
    start = threading.Barrier(2)

    def deliver() -> None:
        start.wait()
        results.append(notify(email_container, app, payment.id))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(results) == 2 and results.count(None) == 1
    assert len(smtp.wait_for(payment.user_email)) == 1


class _Failures(Middleware):
    """Counts the messages that raised, and lets a test wait for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def after_process_message(self, broker, message, *, result=None, exception=None):  # type: ignore[no-untyped-def]
        if exception is not None:
            with self.changed:
                self.count += 1
                self.changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count >= count, timeout)


@pytest.fixture
def email_worker(mail_app: Callable[[int], Container]) -> Iterator[Callable[[int], tuple]]:
    """The real `send_payment_email` (its retry options included) on a stub broker and worker."""
    from tasks import actors

    broker = StubBroker()
    broker.add_middleware(CurrentMessage())
    failures = _Failures()
    broker.add_middleware(failures)
    real = actors.send_payment_email
    actor = dramatiq.actor(
        real.fn,
        broker=broker,
        actor_name=real.actor_name,
        queue_name=real.queue_name,
        **real.options,
    )
    workers: list[dramatiq.Worker] = []

    def start(port: int) -> tuple:
        bootstrap.install(mail_app(port))
        worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
        worker.start()
        workers.append(worker)
        return actor, broker, failures

    yield start
    for worker in workers:
        worker.stop()
    broker.close()
    bootstrap.install(None)


def test_the_email_actor_retries_with_backoff_until_smtp_returns(
    email_worker: Callable[[int], tuple],
    finished: Callable[..., Payment],
    sent_kinds: Callable[[UUID], list[str]],
) -> None:
    port = env.free_port()
    actor, broker, failures = email_worker(port)
    payment = finished("es-MX", currency="MXN")

    actor.send(str(payment.id))
    assert failures.wait_for(2, timeout=15), "the actor was not retried while SMTP was down"
    assert sent_kinds(payment.id) == []

    smtp = SmtpServer(port).start()
    try:
        broker.join(actor.queue_name, timeout=30_000)
        [mail] = smtp.wait_for(payment.user_email)
        actor.send(str(payment.id))  # the bridge may deliver the event twice
        broker.join(actor.queue_name, timeout=30_000)
        assert len(smtp.for_recipient(payment.user_email)) == 1
    finally:
        smtp.stop()
    text, _html = parts(mail)
    assert mail["Subject"] == "Pago aprobado: Rock in Rio"
    assert "$125.50" in text
    assert sent_kinds(payment.id) == ["approved"]


@pytest.mark.parametrize(
    ("language", "event"),
    [
        ("pt-BR", "São Festa Canção Música São São Coração"),  # 1 in 8 such names lost a space
        ("pt-BR", "Turnê de despedida — Música e Emoção no Maracanã, São Paulo e Brasília " * 2),
        ("es", "Ñandú y «Los Ángeles» 🎸 en concierto: gira mundial de aniversario " * 2),
        ("en", "The Long Farewell Tour of a Band with a Very Long Name Indeed, Live " * 2),
        ("en", "Rock =?utf-8?q?Hacked?= Night"),  # shown as typed, not decoded by the reader
    ],
)
def test_a_long_subject_arrives_word_for_word_with_short_header_lines(
    email_container: Container,
    mail_app: Callable[[int], Container],
    smtp: SmtpServer,
    finished: Callable[..., Payment],
    language: str,
    event: str,
) -> None:
    event = event.strip()[:200]
    payment = finished(language, event_name=event)

    notify(email_container, mail_app(smtp.port), payment.id)

    [mail] = smtp.wait_for(payment.user_email)
    assert mail["Subject"].endswith(f": {event}")  # every space kept, nothing glued
    as_sent = [line for name, value in mail.raw_items() for line in f"{name}: {value}".splitlines()]
    assert max(map(len, as_sent)) <= 78
    assert mail["Message-ID"].endswith("@tickets.example>")  # the sender's domain, no DNS
