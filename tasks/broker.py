"""The Dramatiq broker: Redis, with the middleware this service relies on."""

from __future__ import annotations

import os
import sys

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from payments import config
from tasks import observability

DEAD_MESSAGE_TTL_MS = 7 * 24 * 3600 * 1000
HEARTBEAT_TIMEOUT_MS = 15_000


def setup_broker() -> dramatiq.Broker:
    """Set the global broker: a StubBroker under `DRAMATIQ_BROKER=stub`, else Redis."""
    if os.environ.get("DRAMATIQ_BROKER") == "stub":
        broker: dramatiq.Broker = StubBroker()
    else:
        try:
            settings = config.from_env()
        except config.ConfigError as err:
            sys.exit(f"configuration error: {err}")
        broker = RedisBroker(
            # The client is built here: RedisBroker(url=...) would ignore the socket options.
            # Timeouts make a Redis that stopped answering an error within seconds (the bridge
            # rewinds and backs off, consumers reconnect) instead of a hang; every command the
            # broker sends is a short script, so 5 s is far above a healthy answer.
            client=redis.Redis.from_url(
                settings.redis_url,
                socket_timeout=5,
                socket_connect_timeout=5,
                health_check_interval=30,
            ),
            namespace=settings.dramatiq_namespace,
            # Messages whose retries ran out stay this long for `flask dlq retry`.
            dead_message_ttl=DEAD_MESSAGE_TTL_MS,
            # A worker killed with SIGKILL leaves its unacked messages behind; they are
            # requeued once its heartbeat is this old, by a maintenance pass run on about
            # 2% of broker commands (Dramatiq's default, 0.1%, can take minutes to notice).
            heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
            maintenance_chance=20_000,
        )
        observability.install(broker, settings)
    broker.add_middleware(CurrentMessage())
    dramatiq.set_broker(broker)
    return broker
