"""The one SMTP sink of `make run`, the tests and the bench (aiosmtpd on loopback).

It accepts every message and, as asked: keeps it in memory (`messages`, with the time each
arrived: the tests), stores it as `<dir>/<time>-<n>.eml` and logs one line (`make run`),
or appends `<receipt epoch seconds> <recipient>` to a file (the bench, which must not pay
for parsing). Run as `python -m devstack.smtpsink --port 8025 [--dir D] [--receipts F]`.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import signal
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import IO, Any

from aiosmtpd.controller import Controller

ACCEPTED = "250 Message accepted for delivery"


class Sink:
    """aiosmtpd handler: accepts every message; keeps, stores or notes it as configured."""

    def __init__(
        self, keep: bool = False, directory: Path | None = None, receipts: IO[str] | None = None
    ) -> None:
        self.keep, self.directory, self.receipts = keep, directory, receipts
        self.lock = threading.Lock()
        self.messages: list[EmailMessage] = []
        # (arrival time, To, Message-ID) of each kept message, read once on arrival
        self.received: list[tuple[float, str, str]] = []
        self._counter = itertools.count(1)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Accept the message, then keep, store and note it."""
        now = time.time()
        data: bytes = envelope.original_content or envelope.content
        if self.receipts is not None:
            with self.lock:
                self.receipts.writelines(f"{now:.6f} {rcpt}\n" for rcpt in envelope.rcpt_tos)
        if self.keep or self.directory is not None:
            message: Any = email.message_from_bytes(data, policy=email.policy.default)
            with self.lock:
                if self.keep:
                    self.messages.append(message)
                    mid = str(message["Message-ID"] or "").strip()
                    self.received.append((now, str(message["To"]), mid))
                number = next(self._counter)
            if self.directory is not None:
                self._store(data, message, envelope, number)
        return ACCEPTED

    def _store(self, data: bytes, message: Any, envelope: Any, number: int) -> None:
        assert self.directory is not None
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{number:05d}.eml"
        (self.directory / name).write_bytes(data)
        recipients = ",".join(envelope.rcpt_tos)
        subject = message.get("Subject", "")
        print(
            f"mail from={envelope.mail_from} to={recipients} subject={subject!r} file={name}",
            flush=True,
        )


class SmtpSink:
    """A sink listening on host:port in a background thread."""

    def __init__(self, port: int, host: str = "127.0.0.1", handler: Sink | None = None):
        self.host, self.port = host, port
        self.handler = handler or Sink(keep=True)
        self.controller: Controller | None = None

    def start(self) -> SmtpSink:
        """Listen (returns once the server accepts connections)."""
        self.controller = Controller(self.handler, hostname=self.host, port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        """Every kept message, in arrival order."""
        with self.handler.lock:
            return list(self.handler.messages)


def start(host: str, port: int, directory: Path) -> SmtpSink:
    """Start a sink storing under `directory` in a background thread; `.stop()` it."""
    return SmtpSink(port, host, Sink(directory=directory)).start()


def main(argv: list[str] | None = None) -> int:
    """Run the sink until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m devstack.smtpsink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, help="store each message here (.eml)")
    parser.add_argument("--receipts", type=Path, help="append '<epoch> <recipient>' lines here")
    args = parser.parse_args(argv)
    directory = args.dir if args.dir is not None or args.receipts is not None else Path(".run/mail")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    receipts = args.receipts.open("a", encoding="utf-8") if args.receipts else None
    try:
        sink = SmtpSink(args.port, args.host, Sink(directory=directory, receipts=receipts)).start()
        where = f"storing in {directory}" if directory else f"noting receipts in {args.receipts}"
        print(f"smtp sink listening on {args.host}:{args.port}, {where}", flush=True)
        while not stop.wait(0.05):
            if receipts is not None:
                with sink.handler.lock:
                    receipts.flush()
        sink.stop()
    finally:
        if receipts is not None:
            receipts.close()
    print("smtp sink stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
