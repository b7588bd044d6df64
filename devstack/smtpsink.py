"""An SMTP sink: stores each message under a directory and logs one line per message.

Run as `python -m devstack.smtpsink --port 8025 --dir .run/mail`.
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
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

_counter = itertools.count(1)
_lock = threading.Lock()


class MailDirHandler:
    """aiosmtpd handler writing every accepted message to `<dir>/<time>-<n>.eml`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Store the message and log `from`, `to` and `subject`."""
        data: bytes = envelope.original_content or envelope.content
        message = email.message_from_bytes(data, policy=email.policy.default)
        with _lock:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(_counter):05d}.eml"
        (self.directory / name).write_bytes(data)
        recipients = ",".join(envelope.rcpt_tos)
        subject = message.get("Subject", "")
        print(
            f"mail from={envelope.mail_from} to={recipients} subject={subject!r} file={name}",
            flush=True,
        )
        return "250 Message accepted for delivery"


def start(host: str, port: int, directory: Path) -> Controller:
    """Start the sink in a background thread; the caller stops it with `.stop()`."""
    controller = Controller(MailDirHandler(directory), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> int:
    """Run the sink until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m devstack.smtpsink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path(".run/mail"))
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    controller = start(args.host, args.port, args.dir)
    print(f"smtp sink listening on {args.host}:{args.port}, storing in {args.dir}", flush=True)
    stop.wait()
    controller.stop()
    print("smtp sink stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
