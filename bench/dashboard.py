"""A picture of the Grafana dashboard's panels under a running load (issue 31).

Grafana is in none of the registries this machine reaches, so Debian's Prometheus scrapes
the service's real processes (every Procfile line, as `make run` starts them) every 5 s
while a mixed load runs: approvals, declines, 3-D Secure that is never completed, transient
gateway failures, refunds by hand, one event cancelled, and the SMTP server down for a
minute. Then each panel's own PromQL (deploy/grafana/dashboards/payments.json) is asked of
Prometheus over the run, and the answers are plotted one small chart per panel, titled as
the panel: docs/dashboard.png. What is drawn is what Grafana would draw from the same
queries; the look (colours, stat panels as lines) is matplotlib's.

`make dashboard-picture` (about 6 minutes; needs `prometheus`, apt-get install prometheus).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

from bench import e2e, settings
from bench.procs import Service
from bench.stack import BenchStack
from devstack.procs import ROOT, answers_http, free_port, wait_until

log = logging.getLogger("bench")
PICTURE = ROOT / "docs" / "dashboard.png"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "payments.json"
SCRAPE_S = 5
RATE = 12  # payments/s offered
TOKENS = (  # (token, weight): what the fans pay with
    ("pm_card_visa", 70),
    ("pm_card_chargeDeclinedInsufficientFunds", 10),
    ("pm_card_chargeDeclinedExpiredCard", 5),
    ("pm_card_authenticationRequired", 5),
    ("TOKEN124", 10),  # section 4's rule: an odd token is rejected
)


def prometheus_config(targets: dict[str, int], api_port: int) -> str:
    """Prometheus's scrape configuration for the processes on loopback."""
    jobs = [("payments-api", [api_port])]
    jobs += [(f"payments-{name}", [port]) for name, port in targets.items()]
    lines = [f"global:\n  scrape_interval: {SCRAPE_S}s\n  evaluation_interval: {SCRAPE_S}s"]
    lines.append("scrape_configs:")
    for job, ports in jobs:
        hosts = ", ".join(f'"127.0.0.1:{port}"' for port in ports)
        lines.append(f"  - job_name: {job}\n    static_configs:\n      - targets: [{hosts}]")
    return "\n".join(lines) + "\n"


class Load(threading.Thread):
    """Posts payments at `rate`/s with a mix of cards; refunds some approved ones."""

    def __init__(self, api: str, rate: int, event_id: str):
        super().__init__(name="load", daemon=True)
        self.api, self.rate, self.event_id = api, rate, event_id
        self.stop = threading.Event()
        self.paid: list[str] = []
        self.session = requests.Session()

    def run(self) -> None:
        cards, weights = [card for card, _ in TOKENS], [weight for _, weight in TOKENS]
        n, started = 0, time.monotonic()
        while not self.stop.is_set():
            n += 1
            token = random.choices(cards, weights)[0]
            event = self.event_id if n % 4 == 0 else f"evt-{n % 7}"
            body: dict[str, Any] = {
                "user_name": "Ana Souza",
                "user_email": f"fan{n}@dashboard.example",
                "event_id": event,
                "event_name": "Rock in Rio",
                "event_amount": "125.50",
                "payment_token": token,
                "user_language": random.choice(("en", "pt-BR", "es")),
                "currency": "USD",
            }
            try:
                answer = self.session.post(f"{self.api}/payments", json=body, timeout=10)
                approved = token == TOKENS[0][0]
                if answer.status_code == 201 and approved and event != self.event_id:
                    self.paid.append(answer.json()["id"])
                if n % 10 == 0 and len(self.paid) > 20:
                    self.session.post(
                        f"{self.api}/payments/{self.paid.pop(0)}/refunds",
                        json={"amount": "25.00", "reason": "requested_by_customer"},
                        timeout=10,
                    )
            except requests.RequestException as err:
                log.warning("dashboard load: %s", err)
            pause = started + n / self.rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)


def query_range(url: str, expr: str, start: float, end: float) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{url}/api/v1/query_range",
        params={"query": expr, "start": str(start), "end": str(end), "step": str(SCRAPE_S)},
        timeout=30,
    ).json()
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr}: {answer.get('error')}")
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def legend(template: str, labels: dict[str, str]) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()


def draw(url: str, start: float, end: float, marks: dict[str, float], path: Path) -> int:
    """One chart per panel, from its own PromQL; the number of series drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    board = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    rows: list[tuple[str, list[dict[str, Any]]]] = []
    for panel in board["panels"]:
        if panel["type"] == "row":
            rows.append((panel["title"], []))
        else:
            rows[-1][1].append(panel)
    charts = [(row, panel) for row, panels in rows for panel in panels]
    columns = 4
    lines = math.ceil(len(charts) / columns)
    figure, axes = plt.subplots(lines, columns, figsize=(22, 3.1 * lines), squeeze=False)
    drawn = 0
    for ax, (row, panel) in zip(axes.flat, charts, strict=False):
        for target in panel["targets"]:
            for series in query_range(url, target["expr"], start, end):
                xs = [(float(t) - start) / 60 for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                label = legend(target.get("legendFormat", ""), series["metric"]) or target["expr"]
                ax.plot(xs, ys, linewidth=1.2, label=label[:40])
                drawn += 1
        for name, at in marks.items():
            ax.axvline((at - start) / 60, color="grey", linestyle=":", linewidth=0.8)
            ax.text((at - start) / 60, 1.0, f" {name}", transform=ax.get_xaxis_transform(),
                    fontsize=6, color="grey", va="top")  # fmt: skip
        ax.set_title(f"{row} / {panel['title']}", fontsize=8, loc="left")
        ax.tick_params(labelsize=6)
        ax.set_xlabel("minutes", fontsize=6)
        handles, _ = ax.get_legend_handles_labels()
        if handles:
            ax.legend(fontsize=5, loc="upper left", ncol=2 if len(handles) > 4 else 1)
        else:
            ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes, fontsize=8)
    for ax in list(axes.flat)[len(charts) :]:
        ax.axis("off")
    figure.suptitle(
        f"deploy/grafana/dashboards/payments.json: each panel's PromQL over "
        f"{(end - start) / 60:.0f} minutes of load, answered by Prometheus (bench/dashboard.py)",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.985))
    figure.savefig(path, dpi=72)
    plt.close(figure)
    return drawn


def run(minutes: float, path: Path) -> dict[str, Any]:
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("dashboard: prometheus is not installed (apt-get install prometheus)")
    stack = BenchStack.create(ROOT / ".run" / "dashboard")
    ports = {name: free_port() for name in ("relay", "worker", "gateway", "bridge")}
    multiproc = Path(tempfile.mkdtemp(prefix="dashboard-api-metrics-"))
    pipeline = e2e.start(
        stack,
        settings.from_env(),
        "dashboard",
        GATEWAY_TRANSIENT_FAILURE_RATE="0.05",
        PAYMENT_ACTION_TIMEOUT_S="60",
        METRICS_HOST="127.0.0.1",
        RELAY_METRICS_PORT=str(ports["relay"]),
        WORKER_METRICS_PORT=str(ports["worker"]),
        GATEWAY_METRICS_PORT=str(ports["gateway"]),
        BRIDGE_METRICS_PORT=str(ports["bridge"]),
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        RATE_LIMIT="off",
    )
    data = Path(tempfile.mkdtemp(prefix="dashboard-prometheus-"))
    (data / "prometheus.yml").write_text(prometheus_config(ports, pipeline.port))
    prom_port = free_port()
    prometheus = subprocess.Popen(
        [binary, f"--config.file={data / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
         f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url, api = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{pipeline.port}"
    marks: dict[str, float] = {}
    try:
        wait_until(lambda: answers_http(f"{url}/-/ready"), timeout=30, interval=0.5)
        start = time.time()
        load = Load(api, RATE, "evt-cancelled")
        load.start()
        total = minutes * 60
        time.sleep(total * 0.35)
        smtp: Service = pipeline.services["smtp"]
        smtp.stop()
        marks["SMTP down"] = time.time()
        time.sleep(60)
        smtp.start()
        marks["SMTP back"] = time.time()
        time.sleep(total * 0.15)
        requests.post(f"{api}/events/evt-cancelled/cancellation", json={"reason": "storm"},
                      timeout=10)  # fmt: skip
        marks["event cancelled"] = time.time()
        time.sleep(max(0.0, start + total - time.time()))
        load.stop.set()
        load.join(15)
        time.sleep(3 * SCRAPE_S)
        end = time.time()
        drawn = draw(url, start, end, marks, path)
    finally:
        prometheus.terminate()
        prometheus.wait(20)
        pipeline.stop()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(multiproc, ignore_errors=True)
    return {"minutes": minutes, "series": drawn, "picture": str(path.relative_to(ROOT))}


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    minutes = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    print(json.dumps(run(minutes, PICTURE)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
