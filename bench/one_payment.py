"""POST -> e-mail time of single payments, one after another, against a running service.

Run `make run` in one terminal, then `.venv/bin/python -m bench.one_payment` in another: it
posts `--count` payments to `--url`, each after the previous one's e-mail reached the SMTP
sink's folder (`--maildir`, `.run/mail` under `make run`), and prints the times.
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from pathlib import Path

import requests

from bench.payloads import payment_body


def _post(url: str, email: str) -> None:
    response = requests.post(f"{url}/payments", json=payment_body(email), timeout=10)
    if response.status_code != 201:
        raise SystemExit(f"POST /payments answered {response.status_code}")


def _wait_for_mail(maildir: Path, email: str, started: float, timeout: float) -> float:
    seen: set[Path] = set()
    while time.monotonic() - started < timeout:
        for path in maildir.glob("*.eml"):
            if path not in seen:
                seen.add(path)
                if email in path.read_text(errors="replace"):
                    return time.monotonic() - started
        seen.clear()
        time.sleep(0.005)
    raise SystemExit(f"no e-mail to {email} within {timeout:.0f}s")


def main() -> None:
    """Measure and print POST -> e-mail times in milliseconds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:5000")
    parser.add_argument("--maildir", type=Path, default=Path(".run/mail"))
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1, help="payments sent first, not timed")
    args = parser.parse_args()
    times = []
    for i in range(args.warmup + args.count):
        email = f"one-{uuid.uuid4().hex[:10]}@bench.example"
        started = time.monotonic()
        _post(args.url, email)
        elapsed = _wait_for_mail(args.maildir, email, started, timeout=60)
        if i >= args.warmup:
            times.append(elapsed * 1000)
    print("POST -> e-mail at the SMTP server (ms):", ", ".join(f"{t:.0f}" for t in times))
    print(f"median {statistics.median(times):.0f} ms, min {min(times):.0f}, max {max(times):.0f}")


if __name__ == "__main__":
    main()
