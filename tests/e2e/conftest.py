"""The e2e stack: the real API, relay, bridge and worker processes, a real SMTP server.

The stack has its own database, Dramatiq namespace and Kafka consumer group, so its
processes never touch what the integration tests write, and the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devstack import procfile
from payments.config import Settings
from payments.db.engine import make_engine
from payments.db.migrations import migrate
from tests.support import env, keys
from tests.support.kafka import ensure_topics
from tests.support.keys import Keys
from tests.support.procs import Process, wait_http
from tests.support.simulator import Simulator
from tests.support.smtp import SmtpServer

# 3-D Secure not completed within this many seconds is cancelled (short, for the tests).
ACTION_TIMEOUT_S = 6


@dataclass
class Stack:
    base_url: str
    settings: Settings
    smtp: SmtpServer
    processes: dict[str, Process]
    environ: dict[str, str]
    engine: Engine
    keys: Keys  # the front end's and the back office's, each with its own scopes
    gateway: Simulator  # the stack's own: its counts are the stack's charges only


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """All four service processes on real PostgreSQL, Redis, Kafka and SMTP."""
    smtp = SmtpServer(env.free_port()).start()
    api_port = env.free_port()
    log_dir: Path = tmp_path_factory.mktemp("e2e-logs")
    webhooks = f"http://127.0.0.1:{api_port}/webhooks/stripe"  # the simulator's events go there
    gateway = Simulator(env.base_env(GATEWAY_WEBHOOK_URL=webhooks), log_dir).start()
    environ = env.base_env(
        GATEWAY_URL=gateway.url,
        PAYMENT_ACTION_TIMEOUT_S=str(ACTION_TIMEOUT_S),
        DATABASE_URL=env.create_database("e2e"),
        DRAMATIQ_NAMESPACE=f"test-{env.SESSION}-e2e",
        KAFKA_GROUP_ID=f"test-bridge-{env.SESSION}-e2e",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=str(smtp.port),
        API_KEYS="",
        API_KEY_SECRET=keys.SECRET,
    )
    settings = env.settings(**environ)
    engine = make_engine(settings.database_url, pool_size=2)
    migrate(engine)
    stack_keys = keys.issue(engine)
    ensure_topics(settings)
    processes = {
        name: Process(name, environ, log_dir, port=api_port if name == "api" else 0).start()
        for name in procfile.APP_PROCESSES
    }
    try:
        wait_http(f"http://127.0.0.1:{api_port}/healthz")
        base_url = f"http://127.0.0.1:{api_port}"
        yield Stack(base_url, settings, smtp, processes, environ, engine, stack_keys, gateway)
    finally:
        for process in processes.values():
            process.stop()
        gateway.stop()
        smtp.stop()
        engine.dispose()
        for process in processes.values():
            print(f"---- {process.name} log (tail) ----")
            print("\n".join(process.output().splitlines()[-20:]))
