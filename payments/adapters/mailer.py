"""Sending e-mail: Flask-Mail over SMTP, and a fake that keeps what it was given."""

from __future__ import annotations

import contextlib
import smtplib
import threading
import time

from flask import Flask
from flask_mail import Connection, Message

from payments.ports import Email

# Flask-Mail opens SMTP connections without a timeout; a server that accepts the connection
# and then says nothing would hold a worker thread forever instead of failing into a retry.
SMTP_TIMEOUT_S = 20.0


class _TimedConnection(Connection):
    """Flask-Mail's connection, with a socket timeout on every SMTP exchange."""

    def configure_host(self) -> smtplib.SMTP:
        state = self.mail
        smtp_class = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
        host = smtp_class(state.server, state.port, timeout=SMTP_TIMEOUT_S)
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
        return host

    def __exit__(self, *exc_info: object) -> None:
        # Once the server said 250 the mail is delivered: a failing QUIT must not turn that
        # into an error (the retry would send it twice), nor hide an earlier error.
        if self.host is not None:
            try:
                self.host.quit()
            except (smtplib.SMTPException, OSError):
                self.host.close()


class FlaskMailer:
    """Sends through Flask-Mail inside the given app's context, over one SMTP connection per
    thread, kept open between e-mails (a new connection per e-mail cost more CPU than
    rendering the e-mail).

    A connection idle for `CHECK_IDLE_S` is checked with NOOP before it is used, and opened
    again if the server dropped it, so that no e-mail is sent on a dead connection. Any SMTP
    or network failure while sending (server down, refused, timed out) closes the
    connection and raises, so that the caller records nothing and the message is retried.
    """

    CHECK_IDLE_S = 2.0

    def __init__(self, app: Flask):
        self.app = app
        self._local = threading.local()
        self.opened = 0  # connections opened (by every thread), for tests and curiosity

    def send(self, email: Email) -> str:
        """Send and return the Message-ID once the SMTP server accepted it."""
        with self.app.app_context():
            message = Message(
                subject=email.subject, recipients=[email.to], body=email.text, html=email.html
            )
            connection = self._connection()
            try:
                message.send(connection)
            except BaseException:
                self._drop()
                raise
            self._local.used_at = time.monotonic()
        return message.msgId

    def _connection(self) -> _TimedConnection:
        """This thread's open connection: checked if idle a while, (re)opened if needed."""
        connection: _TimedConnection | None = getattr(self._local, "connection", None)
        idle = time.monotonic() - getattr(self._local, "used_at", 0.0)
        if connection is not None and idle >= self.CHECK_IDLE_S and not _alive(connection):
            self._drop()
            connection = None
        if connection is None:
            connection = _TimedConnection(self.app.extensions["mail"]).__enter__()
            self._local.connection = connection
            self.opened += 1
        return connection

    def _drop(self) -> None:
        """Close this thread's connection (best effort: it may be dead already)."""
        connection: _TimedConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None and connection.host is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.host.close()

    def close(self) -> None:
        """QUIT this thread's connection."""
        connection: _TimedConnection | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.__exit__(None, None, None)


def _alive(connection: _TimedConnection) -> bool:
    """Whether the server still answers on this connection (NOOP -> 250)."""
    try:
        return connection.host is not None and connection.host.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


class FakeMailer:
    """Keeps every e-mail in `outbox`; can be told to fail like a down SMTP server."""

    def __init__(self) -> None:
        self.outbox: list[Email] = []
        self.down = False

    def send(self, email: Email) -> str:
        """Append, or raise ConnectionRefusedError while `down`."""
        if self.down:
            raise ConnectionRefusedError("SMTP server down")
        self.outbox.append(email)
        return f"<fake-{len(self.outbox)}@test>"
