"""The soak's report (bench/soak.py): growth per process from the first window after warm-up
to the last, and the /proc readings it is built from."""

from __future__ import annotations

import os
import socket
from typing import Any

from bench import soak


def window(n: int, rss: float, fds: int, p99: float, killed: str | None = None) -> dict[str, Any]:
    return {
        "window": n,
        "minute": 5.0 * (n + 1),
        "offered": 100,
        "accepted": 100,
        "emailed": 100,
        "rejected": {},
        "latency": {"p50_ms": 100.0, "p95_ms": 150.0, "p99_ms": p99, "max_ms": p99},
        "killed": killed,
        "processes": {
            "api": {
                "processes": 3,
                "rss_mib": rss,
                "fds": fds,
                "pg_connections": 2,
                "redis_connections": 1,
            }
        },
        "redis": {"used_mib": 2.0, "keys": 10, "namespace_keys": 4},
        "database": {
            "outbox_rows": 50,
            "outbox_unpublished": 0,
            "backends": 12,
            "table_mib": {"payments": 1.5, "outbox": 0.5},
        },
    }


def test_the_report_measures_growth_from_the_window_after_warm_up() -> None:
    result = {
        "minutes": 15,
        "window_s": 300,
        "rate": 30,
        "started": "2026-12-06T17:00:00+00:00",
        "windows": [
            window(0, 300.0, 40, 900.0),
            window(1, 200.0, 50, 400.0, "worker"),
            window(2, 210.0, 50, 420.0),
        ],  # fmt: skip
        "kills": [{"at": 0, "process": "worker"}],
        "errors": {"api": 0},
        "log_bytes": {"api": 2**20},
    }
    text = soak.report(result)
    assert "| api | 200.0 -> 210.0 | +5% | 50 -> 50 | +0% | 2 -> 2 | 1 -> 1 | 0 | 1.0 |" in text
    assert "| 1 | 10.0 | 100 | 100 | 100 | 400 | worker |" in text
    assert "SIGKILLs: worker" in text


def test_connections_are_found_by_the_remote_port() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    try:
        mine = soak._socket_inodes(os.getpid())
        found = soak.connections_to([port])
        assert found and set(found) & mine  # our end of it, by its socket inode
        assert set(found.values()) == {port}
    finally:
        client.close()
        server.close()


def test_cpu_share_per_window_counts_a_restarted_process_from_zero() -> None:
    before = {"api": 10.0, "worker": 50.0, "broker": 4.0}
    after = {"api": 13.0, "worker": 2.0, "broker": 10.0}  # the worker was killed and restarted
    assert soak.cpu_share(before, after, 10.0) == {"api": 30.0, "worker": 20.0, "broker": 60.0}


def test_the_report_shows_cpu_per_window() -> None:
    first, second = window(0, 200.0, 40, 300.0), window(1, 200.0, 40, 900.0)
    first["cpu_pct"] = {"api": 20.0, "broker": 30.0}
    second["cpu_pct"] = {"api": 21.0, "broker": 85.0}
    text = soak.report(
        {
            "minutes": 10,
            "window_s": 300,
            "rate": 30,
            "started": "2026-12-06T17:00:00+00:00",
            "windows": [first, second],
            "kills": [],
            "errors": {},
            "log_bytes": {},
        }
    )
    assert "| window | api | broker |" in text
    assert "| 1 | 21 | 85 |" in text
