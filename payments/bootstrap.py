"""The composition root: wires real (or, by keyword, fake) adapters for every process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from payments.adapters.gateway import SimulatedGateway
from payments.config import Settings
from payments.db.engine import make_engine
from payments.ports import Gateway
from payments.uow import SqlUnitOfWork


@dataclass
class Container:
    """Everything a process needs, built once per process; nothing connects until used."""

    settings: Settings
    engine: Engine
    gateway: Gateway
    extras: dict[str, Any] = field(default_factory=dict)

    def uow(self) -> SqlUnitOfWork:
        """A fresh unit of work on the shared engine."""
        return SqlUnitOfWork(self.engine, self.settings.topics)

    def publisher(self) -> Any:
        """A new Kafka publisher (or the injected one)."""
        if "publisher" in self.extras:
            return self.extras["publisher"]
        from payments.adapters.publisher import KafkaPublisher

        return KafkaPublisher(self.settings.kafka_bootstrap_servers)

    def mailer(self, app: Any) -> Any:
        """The mailer (or the injected one), sending through the app's Flask-Mail."""
        if "mailer" in self.extras:
            return self.extras["mailer"]
        from payments.adapters.mailer import FlaskMailer

        return FlaskMailer(app, app.extensions["payments.mail"])


def bootstrap(
    settings: Settings,
    *,
    engine: Engine | None = None,
    gateway: Gateway | None = None,
    **extras: Any,
) -> Container:
    """Build the container; pass `engine=`, `gateway=`, `publisher=` to replace the real ones."""
    return Container(
        settings=settings,
        engine=engine or make_engine(settings.database_url, settings.db_pool_size),
        gateway=gateway
        or SimulatedGateway(
            settings.gateway_latency_ms, float(settings.gateway_transient_failure_rate)
        ),
        extras=extras,
    )
