"""A real SMTP server (aiosmtpd) that writes `<receipt epoch seconds> <recipient>` per message.

Run as `python -m bench.smtp_sink --port P --out FILE` in its own process, so that receiving
mail never competes with the load generator for one interpreter.
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class Recorder:
    """aiosmtpd handler: notes the receipt time of every accepted message."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Accept the message; remember when, and for whom."""
        now = time.time()
        with self.lock:
            self.lines.extend(f"{now:.6f} {rcpt}\n" for rcpt in envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def drain(self) -> list[str]:
        """The lines noted since the last call."""
        with self.lock:
            lines, self.lines = self.lines, []
        return lines


def main() -> None:
    """Serve until SIGTERM, appending to the output file every 50 ms."""
    parser = argparse.ArgumentParser(prog="python -m bench.smtp_sink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=args.port)
    controller.start()
    with open(args.out, "a", encoding="utf-8") as out:
        while not stop.wait(0.05):
            out.writelines(recorder.drain())
            out.flush()
        controller.stop()
        out.writelines(recorder.drain())


if __name__ == "__main__":
    main()
