"""`flask gateway simulator`: serve the simulator where GATEWAY_URL points."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import click
from flask import Flask
from flask.cli import AppGroup
from gunicorn.app.base import BaseApplication

from payments import config, logs
from payments.cli_support import UsageProblem, one_line_errors
from stripesim.app import API_VERSION, create_app
from stripesim.state import Knobs, State
from stripesim.webhooks import Sender

log = logging.getLogger("payments.gateway.simulator")

# Calls in flight at once: enough for 100 charges/s each waiting a second's latency.
THREADS = 256

gateway_cli = AppGroup("gateway", help="The payment gateway (contract section 12).")


@gateway_cli.command("simulator", with_appcontext=False)
@click.option("--seed", type=int, default=None, help="Seed of the transient failures.")
@one_line_errors
def simulator(seed: int | None) -> None:
    """Serve the Stripe API simulator at GATEWAY_URL until stopped (a dev/test component).

    It waits GATEWAY_LATENCY_MS per call and fails with probability
    GATEWAY_TRANSIENT_FAILURE_RATE (a 500, or the answer lost after the work was done).
    """
    settings = config.from_env()
    if settings.gateway != "simulator":
        raise UsageProblem("GATEWAY is not 'simulator': the service charges Stripe itself")
    address = urlsplit(settings.gateway_base_url)
    if address.scheme != "http" or not address.hostname:
        raise UsageProblem(f"GATEWAY_URL must be http://host:port, got {address.geturl()}")
    logs.configure(settings)
    knobs = Knobs(
        latency_ms=settings.gateway_latency_ms,
        transient_failure_rate=float(settings.gateway_transient_failure_rate),
    )
    secret = settings.webhook_secret or config.SIMULATOR_WEBHOOK_SECRET

    def app() -> Flask:  # built in the serving process, after gunicorn's fork
        sender = Sender(settings.gateway_webhook_url, secret, API_VERSION)
        return create_app(State(knobs=knobs), seed, sender)

    log.info("gateway simulator on %s knobs=%s", settings.gateway_base_url, knobs)
    Server(app, f"{address.hostname}:{address.port or 80}").run()


class Server(BaseApplication):
    """Gunicorn in process: one worker (the simulator's memory is one process's), threads
    for the calls in flight (each may wait GATEWAY_LATENCY_MS), keep-alive connections as
    Stripe's API keeps them; SIGTERM stops it gracefully."""

    def __init__(self, factory: Callable[[], Flask], bind: str):
        self.factory = factory
        self.options = {
            "bind": bind,
            "workers": 1,
            "worker_class": "gthread",
            "threads": THREADS,
            "keepalive": 75,
            "timeout": 300,
            "graceful_timeout": 5,
            "accesslog": None,
            "loglevel": "warning",
            "proc_name": "gateway-simulator",
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return self.factory()
