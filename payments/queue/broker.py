"""The Dramatiq broker: Redis, with the middleware this service relies on, and a stub."""

from __future__ import annotations

from collections.abc import Iterable

import dramatiq
import redis
from dramatiq import Middleware
from dramatiq.broker import Consumer
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from payments.queue.middleware import LogEnqueue, RecordFailure
from payments.queue.names import QUEUES

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


def service_middleware() -> list[Middleware]:
    """The middleware every process's broker carries, after Dramatiq's defaults."""
    return [RecordFailure(), LogEnqueue(), CurrentMessage()]


def redis_broker(
    client: redis.Redis, namespace: str, extra: Iterable[Middleware] = ()
) -> dramatiq.Broker:
    """The service's Redis broker on `client` (not installed as Dramatiq's global broker)."""
    broker = PromptRedisBroker(
        client=client,
        namespace=namespace,
        # Messages whose retries ran out stay this long for `flask dlq retry`.
        dead_message_ttl=DEAD_MESSAGE_TTL_MS,
        # A worker killed with SIGKILL leaves its unacked messages behind; they are
        # requeued once its heartbeat is this old, by a maintenance pass run on about
        # 2% of broker commands (Dramatiq's default, 0.1%, can take minutes to notice).
        heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=20_000,
    )
    for middleware in [*service_middleware(), *extra]:
        broker.add_middleware(middleware)
    return broker


def stub_broker() -> StubBroker:
    """An in-memory broker with the service's queues and middleware (unit tests)."""
    broker = StubBroker()
    for middleware in service_middleware():
        broker.add_middleware(middleware)
    for queue in QUEUES:
        broker.declare_queue(queue)
    return broker
