"""Sending e-mail: Flask-Mail over SMTP, and a fake that keeps what it was given."""

from __future__ import annotations

from flask import Flask
from flask_mail import Mail, Message

from payments.ports import Email


class FlaskMailer:
    """Sends through Flask-Mail inside the given app's context."""

    def __init__(self, app: Flask, mail: Mail):
        self.app, self.mail = app, mail

    def send(self, email: Email) -> str:
        """Send and return the Message-ID once the SMTP server accepted it."""
        with self.app.app_context():
            message = Message(
                subject=email.subject, recipients=[email.to], body=email.text, html=email.html
            )
            self.mail.send(message)
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
