"""A gateway simulator of a test's own (`flask gateway simulator`, contract section 12): its
charges counted apart from every other test's, its knobs turned while it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import requests

from devstack.procs import ServiceProcess, free_port
from tests.support.procs import BIN, wait_http


class Simulator(ServiceProcess):
    """The simulator on a free port; `url` is the GATEWAY_URL the service is given."""

    def __init__(self, env: dict[str, str], log_dir: Path, port: int = 0):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "GATEWAY": "simulator", "GATEWAY_URL": self.url}
        super().__init__("simulator", [str(BIN / "flask"), "gateway", "simulator"], env, log_dir)

    def start(self) -> Self:
        super().start()
        wait_http(f"{self.url}/_simulator/health")
        return self

    def counts(self) -> dict[str, dict[str, int]]:
        """Charges per idempotency key and per payment, refunds per idempotency key."""
        response = requests.get(f"{self.url}/_simulator/counts", timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def knobs(self, **values: Any) -> dict[str, Any]:
        """Change latency_ms, transient_failure_rate or refunds_pending while it runs."""
        response = requests.post(f"{self.url}/_simulator/knobs", json=values, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def intent(self, intent_id: str) -> dict[str, Any]:
        """A PaymentIntent as the gateway holds it."""
        response = requests.get(
            f"{self.url}/v1/payment_intents/{intent_id}",
            headers={"Authorization": "Bearer sk_test_simulator"},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    def authenticate(self, intent_id: str, result: str = "succeeded", late: bool = False) -> Any:
        """Play the cardholder: complete (or fail) 3-D Secure; with `late`, on a PaymentIntent
        cancelled meanwhile (the race Stripe can report after a cancel)."""
        return requests.post(
            f"{self.url}/_simulator/payment_intents/{intent_id}/authenticate",
            json={"result": result, "late": late},
            timeout=10,
        )

    def finish_refunds(self, status: str = "succeeded") -> int:
        """Finish every refund it reported pending."""
        response = requests.post(
            f"{self.url}/_simulator/refunds/finish", json={"status": status}, timeout=10
        )
        response.raise_for_status()
        return int(response.json()["finished"])
