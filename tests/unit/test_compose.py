"""docker-compose.yml wires the real infrastructure and the app processes correctly."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from devstack.procs import ROOT

APP_SERVICES = {
    "api": ["gunicorn", "web:create_app()"],
    "worker": ["dramatiq", "tasks", "--queues", "payments", "email"],
    "gateway": ["dramatiq", "tasks", "--queues", "gateway"],
    "relay": ["flask", "outbox", "relay"],
    "bridge": ["flask", "bridge", "run"],
    "migrate": ["flask", "db", "init"],
}
INFRA = ("postgres", "redis", "kafka", "mailpit")


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    """The services of docker-compose.yml, with YAML anchors and merge keys resolved."""
    document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document["services"]


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def test_every_service_exists(services: dict[str, Any]) -> None:
    assert set(INFRA) | set(APP_SERVICES) <= set(services)


def test_infrastructure_images(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_kafka_is_apache_kafka_in_kraft_mode(services: dict[str, Any]) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka")
    env = _env(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_NODE_ID"] == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    assert "CONTROLLER" in env["KAFKA_CONTROLLER_LISTENER_NAMES"]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_build_from_the_dockerfile(services: dict[str, Any], name: str) -> None:
    service = services[name]
    build = service["build"]
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    assert dockerfile == "Dockerfile"
    assert (ROOT / dockerfile).is_file()
    command = service["command"]
    command = command.split() if isinstance(command, str) else command
    assert command[: len(APP_SERVICES[name])] == APP_SERVICES[name]


@pytest.mark.parametrize("name", sorted(APP_SERVICES))
def test_app_services_point_at_the_compose_infrastructure(
    services: dict[str, Any], name: str
) -> None:
    env = _env(services[name])
    assert env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["MAIL_SERVER"] == "mailpit"
    assert env["MAIL_PORT"] == "1025"


def test_api_publishes_its_port(services: dict[str, Any]) -> None:
    ports = [str(port) for port in services["api"]["ports"]]
    assert any(port.endswith(":5000") for port in ports)


@pytest.mark.parametrize("name", sorted([*APP_SERVICES, *INFRA]))
def test_depends_on_references_existing_services(services: dict[str, Any], name: str) -> None:
    depends = services[name].get("depends_on", {})
    names = list(depends) if isinstance(depends, (dict, list)) else []
    assert name not in names
    assert set(names) <= set(services)


def test_app_services_wait_for_healthy_infrastructure_and_the_schema(
    services: dict[str, Any],
) -> None:
    for name in ("api", "worker", "gateway", "relay", "bridge"):
        depends = services[name]["depends_on"]
        for infra in INFRA:
            assert depends[infra]["condition"] == "service_healthy"
            assert "healthcheck" in services[infra]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert set(services["migrate"]["depends_on"]) == {"postgres"}
