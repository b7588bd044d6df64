"""`flask gateway simulator`: serve the simulator where GATEWAY_URL points."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import click
from flask.cli import AppGroup
from werkzeug.serving import make_server

from payments import config, logs
from payments.cli_support import UsageProblem, one_line_errors, stop_on_signals
from stripesim.app import API_VERSION, create_app
from stripesim.state import Knobs, State
from stripesim.webhooks import Sender

log = logging.getLogger("payments.gateway.simulator")

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
    sender = Sender(settings.gateway_webhook_url, secret, API_VERSION)
    serve(address.hostname, address.port or 80, State(knobs=knobs), seed, sender)


def serve(
    host: str, port: int, state: State, seed: int | None = None, sender: Sender | None = None
) -> None:
    """Answer on host:port, a thread per connection, until SIGTERM or SIGINT."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server(host, port, create_app(state, seed, sender), threaded=True)
    stop = stop_on_signals()
    log.info("gateway simulator listening on http://%s:%d knobs=%s", host, port, state.knobs)
    thread = threading.Thread(target=server.serve_forever, name="simulator", daemon=True)
    thread.start()
    stop.wait()
    server.shutdown()
    log.info("gateway simulator stopped")
