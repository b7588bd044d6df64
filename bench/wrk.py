"""Driving `wrk` (apt-get install wrk) with a POST script; JSON summary from its `done` hook."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

SCRIPT = """
wrk.method = "POST"
wrk.body = %s
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %%d, "duration_us": %%d, "errors": %%d, "non2xx": %%d,' ..
    ' "p50_ms": %%.3f, "p99_ms": %%.3f}\\n',
    summary.requests, summary.duration,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def available() -> bool:
    """Whether wrk is installed."""
    return shutil.which("wrk") is not None


def lua_string(text: str) -> str:
    """A Lua long-bracket string literal holding `text`."""
    return "[==[" + text + "]==]"


def run(
    url: str,
    body: dict[str, Any],
    connections: int,
    seconds: int,
    workdir: Path,
    headers: dict[str, str] | None = None,
) -> dict:
    """POST `body` (and `headers`) to `url` with `connections` clients for `seconds`;
    requests/s and latency."""
    script = workdir / "post.lua"
    extra = "".join(
        f"wrk.headers[{lua_string(k)}] = {lua_string(v)}\n" for k, v in (headers or {}).items()
    )
    script.write_text(extra + SCRIPT % lua_string(json.dumps(body)))
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
         "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
    ).stdout  # fmt: skip
    line = next(ln for ln in out.splitlines() if ln.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    seconds_run = data["duration_us"] / 1e6
    ok = data["requests"] - data["non2xx"] - data["errors"]
    return {
        "tool": "wrk",
        "requests": data["requests"],
        "ok": ok,
        "failed": data["requests"] - ok,
        "seconds": seconds_run,
        "per_s": ok / seconds_run,
        "p50_ms": data["p50_ms"],
        "p99_ms": data["p99_ms"],
        "connections": connections,
    }
