"""Debian's Chromium, headless, as the tests and the e-mail previews drive it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

# As root, on a machine without a network beyond loopback: no sandbox, no background
# traffic (refused connections otherwise), a fresh profile each time.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def browser() -> str | None:
    """Debian's Chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def run(args: list[str], timeout: float = 90) -> str:
    """Run headless Chromium with `args` on a fresh profile; its standard output."""
    binary = browser()
    if binary is None:
        raise RuntimeError("no Chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    return done.stdout
