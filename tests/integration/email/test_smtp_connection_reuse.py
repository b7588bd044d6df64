"""FlaskMailer keeps one SMTP connection per thread between e-mails, checks an idle one before
using it, and opens a new one when the server dropped it: no e-mail lost or sent twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

from payments.adapters.mailer import FlaskMailer
from payments.adapters.observed import ObservedMailer
from payments.bootstrap import Container
from payments.ports import Email
from tests.support import env
from tests.support.smtp import SmtpServer


def smtp_mailer(container: Container) -> FlaskMailer:
    """The container's FlaskMailer, inside the wrapper that counts e-mails for /metrics."""
    mailer = container.mailer
    assert isinstance(mailer, ObservedMailer)
    assert isinstance(mailer.inner, FlaskMailer)
    return mailer.inner


def email(to: str) -> Email:
    return Email(to=to, subject="Hi", text="text", html="<p>html</p>")


def test_one_connection_carries_many_e_mails(
    mail_app: Callable[[int], Container], smtp: SmtpServer
) -> None:
    mailer = smtp_mailer(mail_app(smtp.port))
    for i in range(5):
        mailer.send(email(f"fan{i}@example.com"))
    assert [m["To"] for m in smtp.messages] == [f"fan{i}@example.com" for i in range(5)]
    assert mailer.opened == 1


def test_each_thread_has_its_own_connection(
    mail_app: Callable[[int], Container], smtp: SmtpServer
) -> None:
    mailer = smtp_mailer(mail_app(smtp.port))
    threads = [
        threading.Thread(target=lambda i=i: mailer.send(email(f"t{i}@example.com")))
        for i in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m["To"] for m in smtp.messages) == [f"t{i}@example.com" for i in range(3)]
    assert mailer.opened == 3


def test_a_connection_the_server_dropped_is_replaced_before_sending(
    mail_app: Callable[[int], Container],
) -> None:
    port = env.free_port()
    first = SmtpServer(port).start()
    mailer = smtp_mailer(mail_app(port))
    mailer.CHECK_IDLE_S = 0.0  # check before every e-mail
    mailer.send(email("before@example.com"))
    first.stop()  # the server goes away with the kept connection
    second = SmtpServer(port).start()
    try:
        mailer.send(email("after@example.com"))
        assert [m["To"] for m in second.messages] == ["after@example.com"]
        assert [m["To"] for m in first.messages] == ["before@example.com"]
        assert mailer.opened == 2
    finally:
        second.stop()
