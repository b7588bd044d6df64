"""Settings, read from the environment (and `.env`) once, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from dotenv import load_dotenv

from payments.errors import ConfigError

TOPIC_VARIABLES = (
    "PAYMENT_CREATED_TOPIC",
    "TRANSACTION_CREATED_TOPIC",
    "TRANSACTION_SUCCEEDED_TOPIC",
    "TRANSACTION_FAILED_TOPIC",
    "PAYMENT_SUCCEEDED_TOPIC",
    "PAYMENT_FAILED_TOPIC",
    "REFUND_PENDING_TOPIC",
    "REFUND_SUCCEEDED_TOPIC",
    "REFUND_FAILED_TOPIC",
    "EVENT_CANCELLED_TOPIC",
)


__all__ = ["ConfigError", "Settings", "Topics", "from_env"]


@dataclass(frozen=True)
class Topics:
    """Kafka topic names, one per event type."""

    payment_created: str = "PAYMENT_CREATED_TOPIC"
    transaction_created: str = "TRANSACTION_CREATED_TOPIC"
    transaction_succeeded: str = "TRANSACTION_SUCCEEDED_TOPIC"
    transaction_failed: str = "TRANSACTION_FAILED_TOPIC"
    payment_succeeded: str = "PAYMENT_SUCCEEDED_TOPIC"
    payment_failed: str = "PAYMENT_FAILED_TOPIC"
    refund_pending: str = "REFUND_PENDING_TOPIC"
    refund_succeeded: str = "REFUND_SUCCEEDED_TOPIC"
    refund_failed: str = "REFUND_FAILED_TOPIC"
    event_cancelled: str = "EVENT_CANCELLED_TOPIC"

    def all(self) -> list[str]:
        """Every topic name, in pipeline order."""
        return [
            self.payment_created,
            self.transaction_created,
            self.transaction_succeeded,
            self.transaction_failed,
            self.payment_succeeded,
            self.payment_failed,
            self.refund_pending,
            self.refund_succeeded,
            self.refund_failed,
            self.event_cancelled,
        ]


DEV_IDEMPOTENCY_SECRET = "development-only-idempotency-secret"  # noqa: S105 (a dev default)
MIN_SECRET_LENGTH = 16
# A simulated gateway slower than this is a misconfiguration, not a test of patience.
MAX_GATEWAY_LATENCY_MS = 120_000


@dataclass(frozen=True)
class Settings:
    """Every setting the processes use. Secrets are never printed by `describe`."""

    database_url: str = "postgresql+psycopg://root@127.0.0.1:5432/test"
    redis_url: str = "redis://127.0.0.1:6379/0"
    dramatiq_namespace: str = "dramatiq"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_group_id: str = "payments-bridge"
    topics: Topics = field(default_factory=Topics)
    mail_server: str = "127.0.0.1"
    mail_port: int = 8025
    mail_username: str | None = None
    mail_password: str | None = None
    mail_use_tls: bool = False
    mail_use_ssl: bool = False
    mail_default_sender: str = "Tickets <no-reply@tickets.example>"
    api_keys: tuple[str, ...] = ()
    default_currency: str = "USD"
    gateway_latency_ms: int = 0
    gateway_transient_failure_rate: Decimal = Decimal("0")
    idempotency_key_ttl_hours: int = 24
    # Keys the HMAC that fingerprints idempotent requests (their bodies hold the token):
    # set it, the same in every API process, to a long random value in production.
    idempotency_secret: str = DEV_IDEMPOTENCY_SECRET
    rate_limit: str = "100/second;2000/minute"
    db_pool_size: int = 10
    outbox_retention_hours: int = 168
    stuck_after_seconds: int = 120
    log_format: str = "text"
    log_level: str = "INFO"
    relay_metrics_port: int = 0
    worker_metrics_port: int = 0
    bridge_metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    def __repr__(self) -> str:
        return f"Settings({self.describe()})"

    def describe(self) -> dict[str, object]:
        """The settings as a dict safe to log: no passwords, keys or credentials in URLs."""
        return {
            "database_url": _redact_url(self.database_url),
            "redis_url": _redact_url(self.redis_url),
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "kafka_group_id": self.kafka_group_id,
            "mail_server": f"{self.mail_server}:{self.mail_port}",
            "api_keys": len(self.api_keys),
            "gateway_latency_ms": self.gateway_latency_ms,
            "outbox_retention_hours": self.outbox_retention_hours,
            "stuck_after_seconds": self.stuck_after_seconds,
            "rate_limit": self.rate_limit,
            "gateway_transient_failure_rate": str(self.gateway_transient_failure_rate),
            "idempotency_hmac": "development default"
            if self.idempotency_secret == DEV_IDEMPOTENCY_SECRET
            else "set",
        }


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


def _str(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    return value or default


def _int(
    env: dict[str, str], name: str, default: int, minimum: int = 0, maximum: int | None = None
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _rate(env: dict[str, str], name: str) -> Decimal:
    raw = env.get(name, "").strip() or "0"
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ConfigError(f"{name} must be a number between 0 and 1, got {raw!r}") from None
    if not Decimal(0) <= value <= Decimal(1):
        raise ConfigError(f"{name} must be between 0 and 1, got {raw!r}")
    return value


def _secret(env: dict[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        return default
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_LENGTH} characters")
    return value


def _rate_limit(env: dict[str, str], name: str, default: str) -> str:
    from limits import parse_many

    value = _str(env, name, default)
    if value.lower() == "off":
        return "off"
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"{name} must be limits such as 100/second;2000/minute, or off, got {value!r}"
        ) from None
    return value


def _currency(env: dict[str, str], name: str) -> str:
    from babel.numbers import get_currency_name

    code = _str(env, name, "USD").upper()
    if len(code) != 3 or get_currency_name(code, locale="en") == code:
        raise ConfigError(f"{name} must be an ISO 4217 currency code, got {code!r}")
    return code


def _url(env: dict[str, str], name: str, default: str, schemes: tuple[str, ...]) -> str:
    value = _str(env, name, default)
    if not value.startswith(schemes):
        raise ConfigError(f"{name} must start with one of {', '.join(schemes)}, got a bad URL")
    return value


def from_env(env: dict[str, str] | None = None) -> Settings:
    """Build settings from `env` (default: `.env` loaded into the process environment)."""
    if env is None:
        load_dotenv(Path.cwd() / ".env", override=False)
        env = dict(os.environ)
    database_url = _url(
        env, "DATABASE_URL", Settings.database_url, ("postgresql://", "postgresql+psycopg://")
    )
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    log_format = _str(env, "LOG_FORMAT", "text").lower()
    if log_format not in {"text", "json"}:
        raise ConfigError(f"LOG_FORMAT must be text or json, got {log_format!r}")
    return Settings(
        database_url=database_url,
        redis_url=_url(env, "REDIS_URL", Settings.redis_url, ("redis://", "rediss://", "unix://")),
        dramatiq_namespace=_str(env, "DRAMATIQ_NAMESPACE", "dramatiq"),
        kafka_bootstrap_servers=_str(env, "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        kafka_group_id=_str(env, "KAFKA_GROUP_ID", "payments-bridge"),
        topics=Topics(*(_str(env, name, name) for name in TOPIC_VARIABLES)),
        mail_server=_str(env, "MAIL_SERVER", "127.0.0.1"),
        mail_port=_int(env, "MAIL_PORT", 8025, minimum=1),
        mail_username=env.get("MAIL_USERNAME") or None,
        mail_password=env.get("MAIL_PASSWORD") or None,
        mail_use_tls=_bool(env, "MAIL_USE_TLS", False),
        mail_use_ssl=_bool(env, "MAIL_USE_SSL", False),
        mail_default_sender=_str(env, "MAIL_DEFAULT_SENDER", Settings.mail_default_sender),
        api_keys=tuple(k.strip() for k in env.get("API_KEYS", "").split(",") if k.strip()),
        default_currency=_currency(env, "DEFAULT_CURRENCY"),
        gateway_latency_ms=_int(env, "GATEWAY_LATENCY_MS", 0, maximum=MAX_GATEWAY_LATENCY_MS),
        gateway_transient_failure_rate=_rate(env, "GATEWAY_TRANSIENT_FAILURE_RATE"),
        idempotency_key_ttl_hours=_int(env, "IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=1),
        idempotency_secret=_secret(env, "IDEMPOTENCY_SECRET", DEV_IDEMPOTENCY_SECRET),
        rate_limit=_rate_limit(env, "RATE_LIMIT", Settings.rate_limit),
        db_pool_size=_int(env, "DB_POOL_SIZE", 10, minimum=1),
        outbox_retention_hours=_int(env, "OUTBOX_RETENTION_HOURS", 168, minimum=1),
        stuck_after_seconds=_int(env, "STUCK_AFTER_SECONDS", 120, minimum=5),
        log_format=log_format,
        log_level=_str(env, "LOG_LEVEL", "INFO").upper(),
        relay_metrics_port=_int(env, "RELAY_METRICS_PORT", 0),
        worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 0),
        bridge_metrics_port=_int(env, "BRIDGE_METRICS_PORT", 0),
        metrics_host=_str(env, "METRICS_HOST", "127.0.0.1"),
    )
