"""`.env_example` documents every variable the service reads, and nothing else; the
settings docker-compose.yml gives the processes are variables the service reads (issue 31:
a newcomer's first hour)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from devstack.procs import ROOT
from payments import config

# Read by the tooling around a process, not by the service: the compose file and the
# Dockerfile set these for Python and Flask themselves.
NOT_SETTINGS = {"FLASK_APP", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}


def read_by_the_service() -> set[str]:
    """Every variable the settings, gunicorn.conf.py and the Procfile read."""
    names = set(config.TOPIC_VARIABLES)
    source = (ROOT / "payments/config.py").read_text()
    names |= set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', source))
    gunicorn = (ROOT / "gunicorn.conf.py").read_text()
    names |= set(re.findall(r'(?:_int|environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"', gunicorn))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", (ROOT / "Procfile").read_text()))
    return names


def documented() -> set[str]:
    lines = (ROOT / ".env_example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z][A-Z0-9_]*=", line)}


def test_the_settings_are_found_at_all() -> None:
    found = read_by_the_service()
    assert {"DATABASE_URL", "REFUND_RETRY_HOURS", "WEB_CONCURRENCY", "GATEWAY_THREADS"} <= found


def test_env_example_documents_every_variable_the_service_reads_and_no_other() -> None:
    read, shown = read_by_the_service(), documented()
    assert not read - shown, f"read but not in .env_example: {sorted(read - shown)}"
    stale = shown - read - {"PROMETHEUS_MULTIPROC_DIR"}  # read by prometheus_client itself
    assert not stale, f"in .env_example but read by nothing: {sorted(stale)}"


def test_compose_sets_only_variables_the_service_reads() -> None:
    compose: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    known = read_by_the_service() | {"PROMETHEUS_MULTIPROC_DIR"} | NOT_SETTINGS
    for name, service in compose["services"].items():
        environment = service.get("environment") or {}
        if "build" not in service or not isinstance(environment, dict):
            continue  # the infrastructure's own images
        unknown = set(environment) - known
        assert not unknown, f"{name} sets what the service never reads: {sorted(unknown)}"
