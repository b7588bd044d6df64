"""deploy/: the Prometheus config and alert rules, the Grafana dashboard, and their wiring in
docker-compose.yml. The rules are checked and unit-tested by `promtool` where it is installed
(Debian: prometheus), and by their schema always. That every metric they name is exported
by the real processes is tests/integration/ops/test_deploy_metrics.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from tests.support import deploy_kit
from tests.support.deploy_kit import DEPLOY, ROOT

PROMTOOL = shutil.which("promtool")
PROMETHEUS = DEPLOY / "prometheus"
DURATION = re.compile(r"^\d+[smhdwy]$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return services


def test_metric_names_are_read_from_promql() -> None:
    names = deploy_kit.metric_names(
        "histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket"
        '{status=~"5.."}[5m]))) / clamp_min(sum(up{job="x"}), 1e-9) > 0.05 and on() absent(foo)'
    )
    assert names == {"http_request_duration_seconds_bucket", "up", "foo"}


def test_every_rule_has_a_severity_a_summary_and_a_wait() -> None:
    rules = deploy_kit.rules()
    assert {rule["alert"] for rule in rules} >= {
        "OutboxEventUnpublished",
        "DeadLettersPresent",
        "PaymentsStuck",
        "RelayErrors",
        "ProcessDown",
        "BridgeWithoutPartitions",
    }
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"page", "ticket"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert DURATION.match(rule["for"]), rule["alert"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


@pytest.mark.skipif(PROMTOOL is None, reason="no promtool (apt-get install prometheus)")
def test_promtool_accepts_the_rules_and_their_unit_tests_pass() -> None:
    assert PROMTOOL is not None
    for command in (["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]):
        done = subprocess.run(
            [PROMTOOL, *command], cwd=PROMETHEUS, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.skipif(PROMTOOL is None, reason="no promtool (apt-get install prometheus)")
def test_promtool_accepts_the_prometheus_config() -> None:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", "prometheus.yml"],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_prometheus_scrapes_each_process_where_compose_serves_its_metrics(
    compose: dict[str, Any],
) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        (job["job_name"], target)
        for job in config["scrape_configs"]
        for target in job["static_configs"][0]["targets"]
    }
    env = compose["relay"]["environment"]
    assert env["METRICS_HOST"] == "0.0.0.0"
    assert targets == {  # both Dramatiq pools are one job: their counts add up
        ("payments-api", "api:5000"),
        ("payments-relay", f"relay:{env['RELAY_METRICS_PORT']}"),
        ("payments-worker", f"worker:{env['WORKER_METRICS_PORT']}"),
        ("payments-worker", f"gateway:{env['WORKER_METRICS_PORT']}"),
        ("payments-bridge", f"bridge:{env['BRIDGE_METRICS_PORT']}"),
    }
    mounted = {v.split(":")[1] for v in compose["prometheus"]["volumes"] if v.startswith("./")}
    assert set(config["rule_files"]) <= mounted
    for volume in compose["prometheus"]["volumes"]:
        if volume.startswith("./"):
            assert (ROOT / volume.split(":")[0]).is_file(), volume


def test_grafana_is_provisioned_with_the_datasource_and_the_dashboard(
    compose: dict[str, Any],
) -> None:
    volumes = dict(v.split(":")[:2] for v in compose["grafana"]["volumes"])
    assert volumes["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/payments.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    assert volumes["./deploy/grafana/dashboards"] == path
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
    # The datasource is a variable (any Prometheus of the Grafana it is imported into), its
    # type the provisioned one's.
    (variable,) = deploy_kit.dashboard()["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == datasource["type"]
    panels = deploy_kit.panels()
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    ids = [p["id"] for p in deploy_kit.dashboard()["panels"]]
    assert len(ids) == len(set(ids))


def test_the_dashboard_covers_what_operators_watch() -> None:
    named = deploy_kit.named_metrics()
    for metric in (
        "http_requests_total",  # request rate by route
        "http_request_duration_seconds_bucket",  # latency by route
        "payments_by_status",
        "outbox_unpublished_events",
        "outbox_oldest_unpublished_age_seconds",
        "outbox_relay_published_total",
        "outbox_relay_errors_total",
        "dramatiq_messages_total",
        "dramatiq_message_retries_total",
        "dramatiq_dead_letters",
        "payments_redriven_total",
        "bridge_unassigned_seconds",
    ):
        assert metric in named, metric


def test_every_alert_links_a_runbook_section_that_exists() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    sections = set(re.findall(r"^## ([a-z0-9-]+)$", runbook, re.M))
    for rule in deploy_kit.rules():
        url = rule["annotations"].get("runbook_url", "")
        path, _, anchor = url.partition("#")
        assert path == "docs/runbook.md" and anchor in sections, (rule["alert"], url)
    assert len(sections) == len(deploy_kit.rules())  # no section for an alert that is gone


def test_processes_up_is_red_unless_every_target_answers() -> None:
    """The stat is the share of targets up, green only at 100% (it used to be green at 0)."""
    (panel,) = [p for p in deploy_kit.panels() if p["title"] == "Processes up"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[0]["color"] == "red" and steps[-1] == {"color": "green", "value": 1}
    assert "or vector(0)" in panel["targets"][0]["expr"]  # no target at all: 0, red
