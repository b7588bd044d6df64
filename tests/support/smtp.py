"""A real SMTP server on loopback that keeps what it receives (devstack's sink)."""

from __future__ import annotations

import time
from email.message import EmailMessage

from devstack.smtpsink import SmtpSink


class SmtpServer(SmtpSink):
    """devstack's SMTP sink, keeping every message; `wait_for` waits for a recipient's."""

    def for_recipient(self, address: str) -> list[EmailMessage]:
        """The messages to `address` so far (their To read once, on arrival)."""
        with self.handler.lock:
            pairs = zip(self.handler.received, self.handler.messages, strict=True)
            return [message for (_, to, _), message in pairs if to == address]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30) -> list[EmailMessage]:
        """Wait until `count` messages reached `address`; return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.for_recipient(address)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        raise AssertionError(
            f"{len(self.for_recipient(address))} e-mails to {address}, wanted {count}"
        )


def parts(message: EmailMessage) -> tuple[str, str]:
    """(text, html) bodies of a multipart e-mail."""
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (text.get_content() if text else "", html.get_content() if html else "")
