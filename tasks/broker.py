"""The Dramatiq broker: Redis, with the middleware this service relies on."""

from __future__ import annotations

import os
import sys

import dramatiq
import redis
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from payments import config
from tasks import observability

DEAD_MESSAGE_TTL_MS = 7 * 24 * 3600 * 1000
HEARTBEAT_TIMEOUT_MS = 15_000
# A consumer whose queue is empty polls it again after an exponential backoff capped by its
# timeout (Dramatiq's worker timeout, 1 s): every quiet hop of a payment could wait that
# long. At most 100 ms keeps POST -> e-mail p99 near 300-600 ms at 20 payments/s (1.3-1.5 s
# with 1 s), for some 80 cheap Redis polls per second per worker process while idle.
IDLE_POLL_MS = 100


class PromptRedisBroker(RedisBroker):
    """A RedisBroker whose consumers look at an idle queue at least every IDLE_POLL_MS."""

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Consumer:
        """Dramatiq's consumer, with its idle backoff capped at IDLE_POLL_MS."""
        return super().consume(queue_name, prefetch, min(timeout, IDLE_POLL_MS))


def setup_broker() -> dramatiq.Broker:
    """Set the global broker: a StubBroker under `DRAMATIQ_BROKER=stub`, else Redis."""
    if os.environ.get("DRAMATIQ_BROKER") == "stub":
        broker: dramatiq.Broker = StubBroker()
    else:
        try:
            settings = config.from_env()
        except config.ConfigError as err:
            sys.exit(f"configuration error: {err}")
        broker = PromptRedisBroker(
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
