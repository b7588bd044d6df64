"""The bench's knobs, read from BENCH_* variables by each field's type (bench/settings.py)."""

from __future__ import annotations

import os

import pytest

from bench import settings
from bench.settings import BenchSettings


def test_no_variable_gives_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BENCH_") or name in {"WEB_CONCURRENCY", "GUNICORN_THREADS"}:
            monkeypatch.delenv(name)
    assert settings.from_env() == BenchSettings()


def test_each_kind_of_knob_is_read_by_its_type(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_PHASES", "api, e2e")
    monkeypatch.setenv("BENCH_API_SECONDS", "3")
    monkeypatch.setenv("WEB_CONCURRENCY", "5")
    monkeypatch.setenv("BENCH_RELAY_ARGS", "--batch-size 1000")
    monkeypatch.setenv("BENCH_E2E_RATES", "20,40")
    monkeypatch.setenv("BENCH_GATEWAY_LOADS", "300:50,1000:10")
    monkeypatch.setenv("BENCH_PROFILE", "1")
    monkeypatch.setenv("BENCH_ENV_GATEWAY_LATENCY_MS", "7")
    found = settings.from_env()
    assert found.phases == ("api", "e2e")
    assert found.api_seconds == 3 and found.api_workers == 5
    assert found.relay_args == ("--batch-size", "1000")
    assert found.e2e_rates == (20, 40)
    assert found.gateway_loads == ((300, 50), (1000, 10))
    assert found.profile is True
    assert found.extra_env["GATEWAY_LATENCY_MS"] == "7"
    assert found.relay_rows == BenchSettings.relay_rows  # untouched knobs keep their default
