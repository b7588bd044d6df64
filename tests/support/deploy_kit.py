"""The operations kit in deploy/: its PromQL expressions and the metric names they read."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from devstack.procs import ROOT

DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "payments.json"

# Words of PromQL that are not metric names: functions and aggregations (followed by "("),
# keywords and modifiers, and Prometheus's own series.
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
KEYWORDS |= {"and", "or", "unless", "inf", "nan", "e"}
PROMETHEUS_OWN = {"up"}


def rules() -> list[dict[str, Any]]:
    """Every rule of the alert rules file."""
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard."""
    result: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return result


def panels() -> list[dict[str, Any]]:
    """The dashboard's panels that draw something (not its rows)."""
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    """Every PromQL expression of the dashboard and the rules."""
    found = [rule["expr"] for rule in rules()]
    found += [target["expr"] for panel in panels() for target in panel["targets"]]
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names `expr` reads: identifiers that are not functions, keywords, label
    names (inside braces or `by (...)`), durations or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word, after = match.group(0), text[match.end() :].lstrip()
        if after.startswith("(") or word in KEYWORDS:
            continue
        after_digit = match.start() > 0 and text[match.start() - 1].isdigit()  # 1e-9, 5m
        if after_digit:
            continue
        names.add(word)
    return names


def named_metrics() -> set[str]:
    """Every metric name the kit reads, but Prometheus's own."""
    return set().union(*(metric_names(e) for e in expressions())) - PROMETHEUS_OWN
