"""Sending e-mail: Flask-Mail over SMTP, and a fake that keeps what it was given."""

from __future__ import annotations

import contextlib
import secrets
import smtplib
import threading
import time
from email.charset import BASE64, Charset
from email.header import Header
from email.mime.base import MIMEBase
from email.policy import Compat32
from email.utils import make_msgid, parseaddr

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


class _Compat32(Compat32):
    """The standard library's compat32 policy, writing a header that needs no folding as is.

    compat32 builds and encodes an `email.header.Header` for every header it writes, folded
    or not: about a third of the CPU of sending one of our e-mails, for fifteen headers of
    which none but a long subject needs it. A plain ASCII one-line value that fits in the
    line length comes out of that unchanged (checked against compat32 on random values,
    whitespace, tabs and specials included, in tests/unit/test_mailer_policy.py), so it is
    written directly; every other value takes compat32's own path.
    """

    def fold(self, name: str, value: str) -> str:
        """The header as a string (compat32's, unchanged)."""
        return self._as_is(name, value) or super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        """The header as bytes, as the generator writes it (compat32's, unchanged)."""
        as_is = self._as_is(name, value)
        return as_is.encode("ascii") if as_is else super().fold_binary(name, value)

    def _as_is(self, name: str, value: object) -> str:
        """The header line when it needs no folding nor encoding; "" when it does."""
        if (
            isinstance(value, str)
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
            and value.isascii()
            and "\r" not in value
            and "\n" not in value
        ):
            return f"{name}: {value}{self.linesep}"
        return ""


# How the message goes over the wire: as its MIME parts were built (compat32), CRLF line ends.
_AS_SENT = _Compat32(linesep="\r\n")
# UTF-8 header words in base64, as the standard library has it (Flask-Mail registers a
# "shortest of both" encoding that measures every candidate line twice).
_UTF8_WORDS = Charset("utf-8")
_UTF8_WORDS.header_encoding = BASE64


class _Message(Message):
    """Flask-Mail's message, with its subject folded without losing a space, at half the cost.

    Flask-Mail encodes a non-ASCII subject into RFC 2047 words, then generates the message
    under `policy.SMTP`, which folds those words a second time: one long Portuguese event
    name in eight lost a space between two words ("Música São" arrived as "MúsicaSão"), and
    every header was parsed anew several times. Here the subject is a `Header` that folds
    itself at 78 columns, the message is generated under the policy its parts were built
    with (CRLF line ends, as SMTP wants), and each multipart part gets a random boundary
    (128 bits) up front, which spares the generator compiling a regular expression per part
    to search the body for one it made up.
    """

    def _message(self) -> MIMEBase:
        subject, self.subject = self.subject, ""  # not encoded by Flask-Mail: see above
        try:
            msg = super()._message()
        finally:
            self.subject = subject
        msg.policy = _AS_SENT
        if subject:
            plain = subject.isascii() and "=?" not in subject  # else a reader would decode it
            words = None if plain else _UTF8_WORDS
            # compat32 folds a Header value itself (typeshed only knows str values)
            msg["Subject"] = Header(subject, words, header_name="Subject")  # type: ignore[assignment]
        for part in msg.walk():
            if part.is_multipart():
                part.set_boundary(f"=_{secrets.token_hex(16)}")
        return msg


def message_id_domain(sender: str) -> str:
    """The domain of the sender's address, for Message-IDs (not the host's name, which a
    container makes meaningless and spam filters dislike); "localhost" without one."""
    return parseaddr(sender)[1].rpartition("@")[2] or "localhost"


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
        self._domain = message_id_domain(str(app.config.get("MAIL_DEFAULT_SENDER") or ""))
        self._local = threading.local()
        self.opened = 0  # connections opened (by every thread), for tests and curiosity

    def send(self, email: Email) -> str:
        """Send and return the Message-ID once the SMTP server accepted it."""
        with self.app.app_context():
            message = _Message(
                subject=email.subject, recipients=[email.to], body=email.text, html=email.html
            )
            message.msgId = make_msgid(domain=self._domain)
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
