"""The daemons' probes (`payments.probes`): /healthz, /readyz with the reason, /metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter

from payments import probes


def call(app: Any, path: str) -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"] = status

    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET"}, start_response))
    return seen["status"], body


def test_health_is_alive_and_readiness_names_what_it_waits_for() -> None:
    registry = CollectorRegistry()
    Counter("probe_demo", "A counter.", registry=registry).inc()
    reason: list[str | None] = [None]
    app = probes.probe_app(registry, lambda: reason[0])

    assert call(app, "/healthz") == ("200 OK", b"alive\n")
    assert call(app, "/readyz") == ("200 OK", b"ready\n")
    reason[0] = "waiting for redis"
    assert call(app, "/readyz") == ("503 Service Unavailable", b"waiting for redis\n")
    assert call(app, "/healthz")[0] == "200 OK"  # alive all the same: no restart for Redis
    status, body = call(app, "/metrics")
    assert status.startswith("200") and b"probe_demo_total 1.0" in body


def test_a_daemon_is_unready_after_five_failures_in_a_row() -> None:
    assert probes.failing(4) is None
    assert probes.failing(5) == "5 failed attempts in a row"
