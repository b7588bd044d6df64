"""Sending e-mail: Flask-Mail over SMTP, and a fake that keeps what it was given."""

from __future__ import annotations

import smtplib

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
    """Sends through Flask-Mail inside the given app's context.

    Any SMTP or network failure (server down, refused, timed out) raises, so that the
    caller records nothing and the message is retried.
    """

    def __init__(self, app: Flask):
        self.app = app

    def send(self, email: Email) -> str:
        """Send and return the Message-ID once the SMTP server accepted it."""
        with self.app.app_context():
            message = Message(
                subject=email.subject, recipients=[email.to], body=email.text, html=email.html
            )
            with _TimedConnection(self.app.extensions["mail"]) as connection:
                message.send(connection)
        return message.msgId


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
