"""deploy/k8s (issue 31): the Kustomize base and dev overlay render (`kubectl kustomize`), every
object validates against the Kubernetes schemas offline (kubernetes-validate; the CRDs of
the Prometheus Operator and KEDA by their shape), every Procfile process runs as a
Deployment with probes, graceful termination and resources (the release line as the
migration Job), and the PrometheusRule is deploy/prometheus/alerts.yml."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from devstack import procfile
from devstack.procs import ROOT

K8S = ROOT / "deploy" / "k8s"
KUBERNETES = "1.32"
CUSTOM_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule", "ScaledObject"}

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl not installed (it renders the Kustomize)"
)


def render(target: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.fixture(scope="module", params=["base", "overlays/dev"])
def objects(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def named(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def test_every_object_validates_against_the_kubernetes_schemas(
    objects: list[dict[str, Any]],
) -> None:
    import kubernetes_validate

    for obj in objects:
        if obj["kind"] in CUSTOM_KINDS:  # no schema offline: the shape the operators read
            assert obj["apiVersion"].split("/")[0] in ("monitoring.coreos.com", "keda.sh")
            assert obj["metadata"]["name"] and obj["spec"]
            continue
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)


def _procfile_lines() -> dict[str, list[str]]:
    """Procfile process -> its command's words, without `env VAR=...` and the shell's
    ${VAR:-default} (the manifests pass those as container environment)."""
    lines = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, command = line.partition(":")
        words = [w for w in shlex.split(command) if "${" not in w]
        if words[0] == "env":
            words = [w for w in words[1:] if "=" not in w]
        lines[name.strip()] = words
    return lines


def test_every_procfile_process_is_deployed_with_probes_grace_and_resources(
    objects: list[dict[str, Any]],
) -> None:
    deployments = named(objects, "Deployment")
    lines = _procfile_lines()
    assert set(lines) == {"release", *procfile.APP_PROCESSES}
    for process in procfile.APP_PROCESSES:
        deployment = deployments.get(f"payments-{process}")
        assert deployment is not None, f"no Deployment for the Procfile's {process}"
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        command = [w for w in container["command"] if not w.startswith(("$(", "0.0.0.0"))]
        assert [w for w in lines[process] if w in command] == [
            w for w in lines[process] if not w.startswith("127.0.0.1")
        ], f"{process}: {command} is not the Procfile's {lines[process]}"
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["path"] in ("/healthz", "/readyz"), process
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod["terminationGracePeriodSeconds"] >= 30, process
        assert container["resources"]["requests"]["memory"]
        assert container["resources"]["limits"]["memory"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        sources = {next(iter(s)) for s in container["envFrom"]}
        assert sources == {"configMapRef", "secretRef"}, process

    (job,) = named(objects, "Job").values()
    (migrate,) = job["spec"]["template"]["spec"]["containers"]
    assert migrate["command"] == lines["release"]


def test_the_api_scales_and_survives_disruptions(objects: list[dict[str, Any]]) -> None:
    assert named(objects, "HorizontalPodAutoscaler")["payments-api"]["spec"]["maxReplicas"] > 1
    assert "payments-api" in named(objects, "PodDisruptionBudget")
    assert "payments-api" in named(objects, "ServiceMonitor")
    assert "payments-daemons" in named(objects, "PodMonitor")


def test_the_base_holds_no_secret_only_a_reference() -> None:
    base = render("base")
    assert not named(base, "Secret")
    dev = render("overlays/dev")
    assert "payments-secrets" in {n.rsplit("-", 1)[0] for n in named(dev, "Secret")}
    assert named(dev, "ScaledObject").keys() == {
        "payments-worker",
        "payments-gateway",
        "payments-bridge",
    }


def test_the_prometheus_rule_is_the_alert_rules_file() -> None:
    (rule,) = named(render("base"), "PrometheusRule").values()
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"], (
        "deploy/k8s/base/prometheusrule.yaml differs from deploy/prometheus/alerts.yml: "
        "write it again with `python -m tests.unit.test_k8s`"
    )


def write_rule() -> None:
    """Write deploy/k8s/base/prometheusrule.yaml from deploy/prometheus/alerts.yml."""
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "payments", "labels": {"role": "alert-rules"}},
        "spec": {"groups": alerts["groups"]},
    }
    head = (
        "# deploy/prometheus/alerts.yml as a PrometheusRule, generated from it by\n"
        "# `python -m tests.unit.test_k8s`; tests/unit/test_k8s.py fails while the two differ.\n"
    )
    text = yaml.safe_dump(rule, sort_keys=False, width=100, allow_unicode=True)
    (K8S / "base" / "prometheusrule.yaml").write_text(head + text)


if __name__ == "__main__":
    write_rule()
