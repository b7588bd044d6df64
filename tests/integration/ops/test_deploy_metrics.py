"""Every metric the Grafana dashboard and the alert rules of deploy/ name is exported by the
service's real processes: the API, the relay, the bridge and the workers, scraped on their
/metrics while payments go through them (with transient gateway failures, so that retries
happen, and one message dead-lettered)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from dramatiq.brokers.redis import RedisBroker
from prometheus_client.parser import text_string_to_metric_families

from devstack import procfile
from payments.config import TOPIC_VARIABLES
from payments.db.engine import make_engine
from payments.db.migrations import migrate
from payments.queue import names
from tests.support import deploy_kit, env
from tests.support.factories import payment_body
from tests.support.kafka import ensure_topics
from tests.support.procs import Process, wait_http, wait_until
from tests.support.simulator import Simulator

SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
    "gauge": ("",),
}


def exported(port: int, path: str = "/metrics") -> set[str]:
    """The metric names a process's /metrics declares: its samples, and the series of each
    family it declares (a labelled counter declares its family before its first count)."""
    try:
        body = requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).text
    except requests.RequestException:
        return set()
    names: set[str] = set()
    for family in text_string_to_metric_families(body):
        names |= {sample.name for sample in family.samples}
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return names


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[dict[str, int]]:
    """The Procfile's processes on a database, topics, namespace and group of their own;
    their metrics ports by name."""
    slug = f"deploy-{env.SESSION}"
    ports = {name: env.free_port() for name in procfile.APP_PROCESSES}
    gateway = Simulator(env.base_env(GATEWAY_TRANSIENT_FAILURE_RATE="0.5"), tmp_path).start()
    with env.own_database("deploy") as database_url:
        environ = env.base_env(
            GATEWAY_URL=gateway.url,
            DATABASE_URL=database_url,
            DRAMATIQ_NAMESPACE=f"test-{slug}",
            KAFKA_GROUP_ID=f"test-{slug}",
            GATEWAY_TRANSIENT_FAILURE_RATE="0.5",
            METRICS_HOST="127.0.0.1",
            RELAY_METRICS_PORT=str(ports["relay"]),
            WORKER_METRICS_PORT=str(ports["worker"]),
            GATEWAY_METRICS_PORT=str(ports["gateway"]),
            BRIDGE_METRICS_PORT=str(ports["bridge"]),
            **{name: f"{name}.{slug}" for name in TOPIC_VARIABLES},
        )
        settings = env.settings(**environ)
        engine = make_engine(settings.database_url, pool_size=1)
        migrate(engine)
        engine.dispose()
        ensure_topics(settings, partitions=1)
        started = [
            Process(name, environ, tmp_path, port=ports[name]).start()
            for name in procfile.APP_PROCESSES
        ]
        client = redis.Redis.from_url(settings.redis_url)
        try:
            wait_http(f"http://127.0.0.1:{ports['api']}/healthz")
            yield ports
        finally:
            for process in started:
                process.stop()
            gateway.stop()
            for key in client.scan_iter(match=f"test-{slug}:*"):
                client.delete(key)
            client.close()


def test_every_metric_the_dashboard_and_the_rules_name_is_exported(
    processes: dict[str, int],
) -> None:
    api = f"http://127.0.0.1:{processes['api']}"
    for _ in range(6):
        answer = requests.post(f"{api}/payments", json=payment_body(), timeout=10)
        assert answer.status_code == 201, answer.text
    broker = RedisBroker(
        client=redis.Redis.from_url(env.base_env()["REDIS_URL"]),
        namespace=f"test-deploy-{env.SESSION}",
        middleware=[],
    )
    broker.enqueue(names.CHARGE_PAYMENT.message(str(uuid.uuid4())))  # dead-lettered
    broker.close()

    wanted = deploy_kit.named_metrics()
    assert len(wanted) >= 20

    def missing() -> set[str]:
        have = exported(processes["api"])
        for name in ("relay", "worker", "gateway", "bridge"):
            have |= exported(processes[name])
        return wanted - have

    left: set[str] = set()

    def none_missing() -> bool:
        left.clear()
        left.update(missing())
        return not left

    try:
        wait_until(none_missing, timeout=60, interval=1)
    except AssertionError:
        pytest.fail(f"named in deploy/ but exported by no process: {sorted(left)}")


def test_every_daemon_answers_its_probes_beside_its_metrics(processes: dict[str, int]) -> None:
    """What the Kubernetes manifests probe (deploy/k8s): /healthz and /readyz on the metrics
    port of the relay, the bridge and both worker pools (the API has its own routes)."""

    def answers(name: str, path: str) -> requests.Response | None:
        try:
            return requests.get(f"http://127.0.0.1:{processes[name]}{path}", timeout=5)
        except requests.RequestException:
            return None

    for name in ("relay", "bridge", "worker", "gateway"):
        alive = wait_until(lambda n=name: answers(n, "/healthz"), timeout=60, interval=0.5)
        assert alive.status_code == 200 and alive.text == "alive\n", name

        def ready(n: str = name) -> bool:
            answer = answers(n, "/readyz")
            return answer is not None and answer.status_code == 200 and answer.text == "ready\n"

        wait_until(ready, timeout=60, interval=0.5, message=f"{name} never became ready")
