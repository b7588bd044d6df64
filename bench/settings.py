"""The benchmark's knobs, from `BENCH_*` environment variables (defaults fit `make bench`)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, "").strip() or default)


def _ints(name: str, default: str) -> tuple[int, ...]:
    raw = os.environ.get(name, "").strip() or default
    return tuple(int(part) for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class BenchSettings:
    """How long, how hard and with how many processes each phase runs."""

    phases: tuple[str, ...] = ("api", "relay", "e2e")
    api_seconds: int = 15
    api_connections: int = 32
    api_workers: int = 2
    api_threads: int = 4
    relay_rows: int = 20_000
    relays: int = 1
    relay_args: tuple[str, ...] = ()
    e2e_seconds: int = 30
    e2e_rates: tuple[int, ...] = (50, 100, 200)
    sustain_start: int = 300
    sustain_step: int = 100
    sustain_tries: int = 3
    drain_seconds: int = 15
    worker_processes: int = 2
    worker_threads: int = 8
    profile: bool = False
    profile_rate: int = 300
    extra_env: dict[str, str] = field(default_factory=dict)


def _extra_env() -> dict[str, str]:
    """`BENCH_ENV_X=v` -> `X=v` for the e2e processes (to try a setting without editing)."""
    prefix = "BENCH_ENV_"
    return {k.removeprefix(prefix): v for k, v in os.environ.items() if k.startswith(prefix)}


def from_env() -> BenchSettings:
    """Settings from `BENCH_*` variables; `WEB_CONCURRENCY` sets the API's worker processes."""
    phases = os.environ.get("BENCH_PHASES", "").strip()
    return BenchSettings(
        phases=tuple(p.strip() for p in phases.split(",") if p.strip()) or BenchSettings.phases,
        api_seconds=_int("BENCH_API_SECONDS", BenchSettings.api_seconds),
        api_connections=_int("BENCH_API_CONNECTIONS", BenchSettings.api_connections),
        api_workers=_int("WEB_CONCURRENCY", BenchSettings.api_workers),
        api_threads=_int("GUNICORN_THREADS", BenchSettings.api_threads),
        relay_rows=_int("BENCH_RELAY_ROWS", BenchSettings.relay_rows),
        relays=_int("BENCH_RELAYS", BenchSettings.relays),
        relay_args=tuple(os.environ.get("BENCH_RELAY_ARGS", "").split()),
        e2e_seconds=_int("BENCH_E2E_SECONDS", BenchSettings.e2e_seconds),
        e2e_rates=_ints("BENCH_E2E_RATES", "50,100,200"),
        sustain_start=_int("BENCH_SUSTAIN_START", BenchSettings.sustain_start),
        sustain_step=_int("BENCH_SUSTAIN_STEP", BenchSettings.sustain_step),
        sustain_tries=_int("BENCH_SUSTAIN_TRIES", BenchSettings.sustain_tries),
        drain_seconds=_int("BENCH_DRAIN_SECONDS", BenchSettings.drain_seconds),
        worker_processes=_int("BENCH_WORKER_PROCESSES", BenchSettings.worker_processes),
        worker_threads=_int("BENCH_WORKER_THREADS", BenchSettings.worker_threads),
        profile=os.environ.get("BENCH_PROFILE", "").strip() in {"1", "true", "yes"},
        profile_rate=_int("BENCH_PROFILE_RATE", BenchSettings.profile_rate),
        extra_env=_extra_env(),
    )
