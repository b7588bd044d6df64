"""The benchmark's knobs, from environment variables (the defaults are what `make bench` runs).

- `BENCH_PHASES` (api,relay,gateway,webhooks,e2e,skeleton,cancel,history): which phases; a partial
  run writes its results under `BENCH_LOG_DIR` (default `.run/bench`, also where every
  process logs) instead of `bench/`.
- `BENCH_API_SECONDS` (8), `BENCH_API_CONNECTIONS` (32): the API load (wrk, else Python).
- `WEB_CONCURRENCY` (2), `GUNICORN_THREADS` (4): the API's gunicorn workers and threads.
- `BENCH_RELAY_ROWS` (20000), `BENCH_RELAYS` (1), `BENCH_RELAY_ARGS` (e.g. `--batch-size 1000`).
- `BENCH_CANCEL_PAYMENTS` (100000): the paid payments of the cancel phase's event.
- `BENCH_SKELETON_RATES` (50,100), `BENCH_SKELETON_SECONDS` (10): the loads of each skeleton
  pipeline (the four-hop reference and the two-hop floor, bench/skeleton.py).
- `BENCH_HISTORY_PAYMENTS` (500000), `BENCH_HISTORY_BACKLOG` (10000), `BENCH_HISTORY_RATE`
  (50): the history phase's past payments, relay backlog and end-to-end load.
- `BENCH_E2E_SECONDS` (10), `BENCH_E2E_RATES` (50,100), `BENCH_DRAIN_SECONDS` (15): the
  fixed end-to-end loads (the highest sustained rate is the highest of them sustained); then
  `BENCH_SUSTAIN_START` (150), `BENCH_SUSTAIN_STEP` (50) and `BENCH_SUSTAIN_TRIES` (0) for a
  search above them (each try about 35 s; 0 keeps `make bench` under 10 minutes).
- `BENCH_WORKER_PROCESSES` (2), `BENCH_WORKER_THREADS` (8): the worker pool's `-p -t`;
  `BENCH_GATEWAY_PROCESSES` (1), `BENCH_GATEWAY_THREADS` (150): the gateway pool's.
- `BENCH_GATEWAY_LOADS` (300:50,300:100,1000:50,1000:100): end-to-end loads with a slow
  gateway, as `latency_ms:rate` pairs (after the loads at 0 ms).
- `BENCH_LOG_LEVEL` (INFO): the services' log level, as in production.
- `BENCH_PROFILE=1`: py-spy profiles of the API and relay phases and of every process during
  the e2e step at `BENCH_PROFILE_RATE` (300) payments/s (`profile-*.summary.txt`).
- `BENCH_ENV_<NAME>=value`: set NAME=value for the e2e processes (try a setting as is).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass(frozen=True)
class BenchSettings:
    """How long, how hard and with how many processes each phase runs."""

    phases: tuple[str, ...] = (
        "api", "relay", "gateway", "webhooks", "e2e", "skeleton", "cancel", "history",
    )  # fmt: skip
    api_seconds: int = 8
    api_connections: int = 32
    api_workers: int = 2
    api_threads: int = 4
    relay_rows: int = 20_000
    relays: int = 1
    relay_args: tuple[str, ...] = ()
    e2e_seconds: int = 10
    e2e_rates: tuple[int, ...] = (50, 100)
    sustain_start: int = 150
    sustain_step: int = 50
    sustain_tries: int = 0
    drain_seconds: int = 15
    worker_processes: int = 2
    worker_threads: int = 8
    gateway_processes: int = 1
    gateway_threads: int = 150
    gateway_loads: tuple[tuple[int, int], ...] = ((300, 50), (300, 100), (1000, 50), (1000, 100))
    profile: bool = False
    profile_rate: int = 300
    extra_env: dict[str, str] = field(default_factory=dict)
    history_payments: int = 500_000  # issue 26's own figure; 1,000,000 takes 85-105 s to seed
    history_backlog: int = 10_000
    history_rate: int = 50
    skeleton_rates: tuple[int, ...] = (50, 100)
    skeleton_seconds: int = 10


# Each knob's variable is BENCH_ and its field's name, but for these two (the API's own).
VARIABLES = {"api_workers": "WEB_CONCURRENCY", "api_threads": "GUNICORN_THREADS"}


def _parse(raw: str, default: Any) -> Any:
    """`raw` read as the default's type: a flag, a number, or a list (comma-separated; pairs
    `a:b`; the relay's arguments separated by spaces)."""
    if isinstance(default, bool):
        return raw in {"1", "true", "yes"}
    if isinstance(default, int):
        return int(raw)
    if default == () or (default and isinstance(default[0], str)):
        parts = raw.split(",") if "," in raw or default else raw.split()
        return tuple(p.strip() for p in parts if p.strip())
    if isinstance(default[0], tuple):
        return tuple(tuple(int(n) for n in p.split(":")) for p in raw.split(",") if p.strip())
    return tuple(int(p) for p in raw.split(",") if p.strip())


def from_env() -> BenchSettings:
    """Settings from the `BENCH_*` variables (and `WEB_CONCURRENCY`, `GUNICORN_THREADS`);
    `BENCH_ENV_X=v` passes `X=v` to the e2e processes (to try a setting without editing)."""
    found: dict[str, Any] = {}
    for knob in fields(BenchSettings):
        raw = os.environ.get(VARIABLES.get(knob.name, f"BENCH_{knob.name.upper()}"), "").strip()
        if raw and knob.name != "extra_env":
            found[knob.name] = _parse(raw, getattr(BenchSettings, knob.name))
    prefix = "BENCH_ENV_"
    extra = {k.removeprefix(prefix): v for k, v in os.environ.items() if k.startswith(prefix)}
    return replace(BenchSettings(), **found, extra_env=extra)
