"""The composition root: reads the settings once and wires every process's adapters.

Every entry point receives a `Container` built here: `web.create_app`, the actors
(`tasks`), the relay (`outbox`), the bridge (`bridge`) and the operator commands (`ops`).
Nothing connects, and no broker, producer or Flask object is built, until first used, so
a process builds only what it uses (the API never builds a Dramatiq broker). Real adapters
are replaced by keyword: `bootstrap(settings, gateway=FakeGateway(), mailer=FakeMailer())`.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
from sqlalchemy import Engine

from payments import config
from payments.api_keys import KeyRing
from payments.config import Settings
from payments.db.engine import make_engine
from payments.horizon import Positions
from payments.ports import EmailRenderer, Gateway, Mailer, Publisher, RefundEmailRenderer
from payments.uow import SqlUnitOfWork

if TYPE_CHECKING:
    import dramatiq
    from flask import Flask

    from payments.queue.dead_letters import DeadLetters

# Redis answers every command the service sends (short scripts, pings) in milliseconds; a
# Redis that stopped answering becomes an error within this many seconds instead of a hang.
REDIS_TIMEOUT_S = 5
# Keep-alive connections to the gateway kept per process, at most: as many as the gateway
# pool's threads (Procfile: GATEWAY_THREADS); a thread beyond it opens one for its call.
GATEWAY_POOL_SIZE = 150


class Container:
    """Everything a process needs, built at most once per process, each part on first use."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        gateway: Gateway | None = None,
        publisher: Publisher | None = None,
        mailer: Mailer | None = None,
        renderer: EmailRenderer | None = None,
        broker: dramatiq.Broker | None = None,
        redis_client: redis.Redis | None = None,
    ):
        self.settings = settings
        self._engine = engine
        self._gateway = gateway
        self._publisher = publisher
        self._mailer = mailer
        self._renderer = renderer
        self._broker = broker
        self._redis = redis_client

    @cached_property
    def engine(self) -> Engine:
        """The pooled PostgreSQL engine."""
        return self._engine or make_engine(self.settings.database_url, self.settings.db_pool_size)

    @cached_property
    def gateway(self) -> Gateway:
        """The payment gateway over Stripe's HTTP API: Stripe, or its simulator (contract
        section 12). One connection pool for the process's threads; the simulator's search
        reads its own writes, so an unknown outcome is settled without waiting."""
        if self._gateway is not None:
            return self._gateway
        from payments.adapters.observed import ObservedGateway
        from payments.adapters.stripe_gateway import STRIPE_SEARCH_LAG, StripeGateway

        settings = self.settings
        return ObservedGateway(
            StripeGateway(
                settings.gateway_api_key,
                settings.gateway_base_url,
                timeout_s=settings.gateway_timeout_ms / 1000,
                pool_size=GATEWAY_POOL_SIZE,
                search_lag=STRIPE_SEARCH_LAG if settings.gateway == "stripe" else timedelta(0),
            )
        )

    def uow(self) -> SqlUnitOfWork:
        """A fresh unit of work on the shared engine."""
        return SqlUnitOfWork(self.engine, self.settings.topics)

    @property
    def has_fake_publisher(self) -> bool:
        """Whether a publisher was injected (tests): every `publisher()` returns it."""
        return self._publisher is not None

    def publisher(self, timeout_s: float | None = None) -> Publisher:
        """A new Kafka publisher (or the injected one); `timeout_s` bounds every wait."""
        if self._publisher is not None:
            return self._publisher
        from payments.adapters.publisher import KafkaPublisher

        if timeout_s is None:
            return KafkaPublisher(self.settings.kafka_bootstrap_servers)
        return KafkaPublisher(
            self.settings.kafka_bootstrap_servers,
            timeout_s=timeout_s,
            bootstrap_timeout_ms=int(timeout_s * 1000),
        )

    def bridge_positions(self) -> Positions:
        """The bridge's positions in Kafka (`payments.horizon`), on a new pair of clients."""
        from payments.adapters.kafka_positions import KafkaPositions

        s = self.settings
        return KafkaPositions(s.kafka_bootstrap_servers, s.kafka_group_id, s.topics.bridged())

    @cached_property
    def redis(self) -> redis.Redis:
        """The process's one Redis client (its pool reconnects), with short timeouts."""
        return self._redis or redis.Redis.from_url(
            self.settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
            health_check_interval=30,
        )

    @cached_property
    def broker(self) -> dramatiq.Broker:
        """The Dramatiq broker on that Redis client; not Dramatiq's global broker unless
        `install_broker` is called (only `dramatiq tasks` needs that, to declare actors)."""
        if self._broker is not None:
            return self._broker
        from payments.queue.broker import redis_broker

        return redis_broker(self.redis, self.settings.dramatiq_namespace)

    def install_broker(self) -> dramatiq.Broker:
        """Make the container's broker Dramatiq's global one (before declaring actors)."""
        import dramatiq

        dramatiq.set_broker(self.broker)
        return self.broker

    def dead_letters(self) -> DeadLetters:
        """Dramatiq's dead letters in this namespace."""
        from payments.queue.dead_letters import DeadLetters

        return DeadLetters(self.redis, self.settings.dramatiq_namespace)

    @cached_property
    def key_ring(self) -> KeyRing:
        """The API keys as this process sees them (looked up by hash, kept briefly)."""
        return KeyRing(self.engine, self.settings.api_key_secret)

    @cached_property
    def mail_app(self) -> Flask:
        """The small Flask object holding the e-mail templates, Flask-Babel and Flask-Mail."""
        from payments.adapters.email_renderer import mail_app

        return mail_app(self.settings)

    @cached_property
    def renderer(self) -> EmailRenderer:
        """Renders a finished payment's e-mail in its language."""
        if self._renderer is not None:
            return self._renderer
        from payments.adapters.email_renderer import EmailRenderer as FlaskRenderer

        return FlaskRenderer(self.mail_app)

    @cached_property
    def refund_renderer(self) -> RefundEmailRenderer:
        """Renders a refund's e-mail in its payment's language."""
        from payments.adapters import email_renderer

        return email_renderer.RefundEmailRenderer(self.mail_app)

    @cached_property
    def mailer(self) -> Mailer:
        """Sends e-mail over SMTP (Flask-Mail), or the injected fake."""
        if self._mailer is not None:
            return self._mailer
        from payments.adapters.mailer import FlaskMailer
        from payments.adapters.observed import ObservedMailer

        return ObservedMailer(FlaskMailer(self.mail_app))


def bootstrap(settings: Settings, **adapters: Any) -> Container:
    """Build the container; pass `engine=`, `gateway=`, `publisher=`, `mailer=`... to replace
    the real ones."""
    return Container(settings, **adapters)


def settings_or_exit() -> Settings:
    """The settings from the environment (and `.env`), read once; a bad one stops the
    process with one line naming the variable, never a traceback."""
    try:
        return config.from_env()
    except config.ConfigError as err:
        sys.exit(f"configuration error: {err}")


def from_env(**adapters: Any) -> Container:
    """The container of a process started from the command line."""
    return bootstrap(settings_or_exit(), **adapters)


APP_KEY = "payments"


def container_of(app: Flask) -> Container:
    """The container a Flask object (the API, or `flask`'s CLI app) was built on."""
    container: Container = app.extensions[APP_KEY]
    return container


_process_lock = threading.Lock()
_process: Container | None = None


def install(container: Container | None) -> None:
    """Make `container` the process's own, for code that runs outside any Flask app (a
    Dramatiq worker's actors); None forgets it (tests)."""
    global _process
    with _process_lock:
        _process = container


def install_from_env() -> Container:
    """The process's own container, built from the settings the first time (a worker)."""
    global _process
    with _process_lock:
        if _process is None:
            _process = from_env()
        return _process


def current() -> Container:
    """The one way code reaches its container: the current Flask app's (in a request or a
    `flask` command), else the process's own (a worker's: the one installed, or one built
    from the settings on first use)."""
    from flask import current_app, has_app_context

    if has_app_context() and APP_KEY in current_app.extensions:
        return container_of(current_app)
    return _process if _process is not None else install_from_env()
