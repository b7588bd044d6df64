"""Settings, read from the environment (and `.env`) once, in one place.

Each default is written once, on `Settings`; devstack, the bench and the tests read them from
there. Parsing and validation are environs' (marshmallow fields and validators); a bad value
becomes one `ConfigError` line naming its variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from environs import Env, EnvError
from marshmallow import ValidationError
from marshmallow.validate import Length, OneOf, Range

from payments.errors import ConfigError

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
        """Every topic name, in pipeline order (the fields' order)."""
        return [getattr(self, f.name) for f in fields(self)]

    def bridged(self) -> list[str]:
        """The topics the bridge consumes into actors (contract section 5); the transaction
        ones are published for the platform only."""
        platform_only = {
            self.transaction_created,
            self.transaction_succeeded,
            self.transaction_failed,
        }
        return [t for t in self.all() if t not in platform_only]


# The variable that names each topic (its default name is the variable's own name), in
# pipeline order: PAYMENT_CREATED_TOPIC, TRANSACTION_CREATED_TOPIC...
TOPIC_VARIABLES = tuple(str(f.default) for f in fields(Topics))


DEV_IDEMPOTENCY_SECRET = "development-only-idempotency-secret"  # noqa: S105 (a dev default)
DEV_API_KEY_SECRET = "development-only-api-key-secret"  # noqa: S105 (a dev default)
MIN_SECRET_LENGTH = 16
# A simulated gateway slower than this is a misconfiguration, not a test of patience.
MAX_GATEWAY_LATENCY_MS = 120_000
# The longest one gateway call may take (contract section 12), and the most it may be set to.
DEFAULT_GATEWAY_TIMEOUT_MS = 30_000
MAX_GATEWAY_TIMEOUT_MS = 120_000
GATEWAYS = ("simulator", "stripe")
STRIPE_API_URL = "https://api.stripe.com"
SIMULATOR_URL = "http://127.0.0.1:12111"  # the port stripe-mock made customary
SIMULATOR_API_KEY = "sk_test_simulator"  # the simulator takes any test-mode key
SIMULATOR_WEBHOOK_SECRET = "whsec_simulator_development_only"  # noqa: S105 (dev default)


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
    # The payment gateway (contract section 12): Stripe's API, or the simulator of it.
    gateway: str = "simulator"
    gateway_url: str | None = None  # default: SIMULATOR_URL, or Stripe's API for `stripe`
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    # A 3-D Secure authentication not completed this long after the charge: cancelled, and
    # the payment FAILED authentication_failed.
    payment_action_timeout_s: int = 900
    # The simulator's own behaviour (read by `flask gateway simulator`, not by the service);
    # GATEWAY_WEBHOOK_URL: where it sends its signed webhook events (none: it sends none).
    gateway_webhook_url: str | None = None
    gateway_latency_ms: int = 0
    gateway_transient_failure_rate: Decimal = Decimal("0")
    gateway_timeout_ms: int = DEFAULT_GATEWAY_TIMEOUT_MS
    idempotency_key_ttl_hours: int = 24
    # Keys the HMAC that fingerprints idempotent requests (their bodies hold the token):
    # set it, the same in every API process, to a long random value in production.
    idempotency_secret: str = DEV_IDEMPOTENCY_SECRET
    # Keys the HMAC that API keys are stored as (payments/api_keys.py): the same in every
    # process; set it to a long random value in production, and never change it (every
    # stored key would stop matching).
    api_key_secret: str = DEV_API_KEY_SECRET
    rate_limit: str = "100/second;2000/minute"
    db_pool_size: int = 10
    outbox_retention_hours: int = 168
    stuck_after_seconds: int = 120
    # `flask db init`: the longest a migration step waits for a table lock (every request
    # that needs the table queues behind a waiting ALTER) before it gives way and retries.
    migration_lock_timeout_ms: int = 500
    # A refund the gateway cannot be reached for stays PENDING and is retried this long.
    refund_retry_hours: Decimal = Decimal(72)
    # A refund still PENDING this long after it was requested: the fan is told, once.
    refund_delay_notice_hours: Decimal = Decimal(24)
    log_format: str = "text"
    log_level: str = "INFO"
    relay_metrics_port: int = 0
    worker_metrics_port: int = 0
    bridge_metrics_port: int = 0
    metrics_host: str = "127.0.0.1"

    def __repr__(self) -> str:
        return f"Settings({self.describe()})"

    @property
    def gateway_base_url(self) -> str:
        """Where the gateway's API answers."""
        if self.gateway_url:
            return self.gateway_url.rstrip("/")
        return STRIPE_API_URL if self.gateway == "stripe" else SIMULATOR_URL

    @property
    def webhook_secret(self) -> str | None:
        """The secret webhook events are signed with: STRIPE_WEBHOOK_SECRET, or the
        simulator's own for `simulator` (it signs with the same setting)."""
        if self.stripe_webhook_secret:
            return self.stripe_webhook_secret
        return SIMULATOR_WEBHOOK_SECRET if self.gateway == "simulator" else None

    @property
    def gateway_api_key(self) -> str:
        """The key the gateway is called with (the simulator takes any test-mode key)."""
        return self.stripe_api_key or SIMULATOR_API_KEY

    def describe(self) -> dict[str, object]:
        """The settings as a dict safe to log: no passwords, keys or credentials in URLs."""
        return {
            "database_url": _redact_url(self.database_url),
            "redis_url": _redact_url(self.redis_url),
            "kafka_bootstrap_servers": self.kafka_bootstrap_servers,
            "kafka_group_id": self.kafka_group_id,
            "mail_server": f"{self.mail_server}:{self.mail_port}",
            "api_keys": len(self.api_keys),
            "gateway": self.gateway,
            "gateway_url": self.gateway_base_url,
            "stripe_api_key": "set" if self.stripe_api_key else "unset",
            "gateway_latency_ms": self.gateway_latency_ms,
            "gateway_timeout_ms": self.gateway_timeout_ms,
            "outbox_retention_hours": self.outbox_retention_hours,
            "stuck_after_seconds": self.stuck_after_seconds,
            "migration_lock_timeout_ms": self.migration_lock_timeout_ms,
            "refund_retry_hours": str(self.refund_retry_hours),
            "refund_delay_notice_hours": str(self.refund_delay_notice_hours),
            "rate_limit": self.rate_limit,
            "gateway_transient_failure_rate": str(self.gateway_transient_failure_rate),
            "idempotency_hmac": "development default"
            if self.idempotency_secret == DEV_IDEMPOTENCY_SECRET
            else "set",
            "api_key_hmac": "development default"
            if self.api_key_secret == DEV_API_KEY_SECRET
            else "set",
        }


def _redact_url(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"


class _MappingEnv(Env):
    """environs' reader over one mapping instead of `os.environ` (its `FileAwareEnv` overrides
    the same hook), so that a process reads `os.environ` once and a test reads its own dict."""

    def __init__(self, values: Mapping[str, str]):
        super().__init__(eager=True)
        self._source: Mapping[str, str] = values

    def _get_value(self, env_key: str, default: Any) -> Any:
        return self._source.get(env_key, default)


def _check(test: Callable[[Any], bool], message: str) -> Callable[[Any], None]:
    """A marshmallow validator raising `message` when `test` fails."""

    def validate(value: Any) -> None:
        if not test(value):
            raise ValidationError(message)

    return validate


def _schemes(*schemes: str) -> Callable[[Any], None]:
    return _check(lambda v: str(v).startswith(schemes), f"must start with {', '.join(schemes)}")


def _is_currency(code: str) -> bool:
    from babel.numbers import get_currency_name

    return len(code) == 3 and get_currency_name(code, locale="en") != code


def _is_http_url(value: str) -> bool:
    return str(value).startswith(("http://", "https://"))


def _is_rate_limit(value: str) -> bool:
    from limits import parse_many

    if value.lower() == "off":
        return True
    try:
        parse_many(value)
    except ValueError:
        return False
    return True


def _read(env: Env) -> Settings:
    """Every setting, each with its default from `Settings` and its rules."""
    d = Settings()
    port = Range(min=0, max=65535)
    database_url = env.str(
        "DATABASE_URL",
        d.database_url,
        validate=_schemes("postgresql://", "postgresql+psycopg://"),
    )
    if database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    settings = Settings(
        database_url=database_url,
        redis_url=env.str(
            "REDIS_URL", d.redis_url, validate=_schemes("redis://", "rediss://", "unix://")
        ),
        dramatiq_namespace=env.str("DRAMATIQ_NAMESPACE", d.dramatiq_namespace),
        kafka_bootstrap_servers=env.str("KAFKA_BOOTSTRAP_SERVERS", d.kafka_bootstrap_servers),
        kafka_group_id=env.str("KAFKA_GROUP_ID", d.kafka_group_id),
        topics=Topics(*(env.str(name, name) for name in TOPIC_VARIABLES)),
        mail_server=env.str("MAIL_SERVER", d.mail_server),
        mail_port=env.int("MAIL_PORT", d.mail_port, validate=Range(min=1, max=65535)),
        mail_username=env.str("MAIL_USERNAME", d.mail_username),
        mail_password=env.str("MAIL_PASSWORD", d.mail_password),
        mail_use_tls=env.bool("MAIL_USE_TLS", d.mail_use_tls),
        mail_use_ssl=env.bool("MAIL_USE_SSL", d.mail_use_ssl),
        mail_default_sender=env.str("MAIL_DEFAULT_SENDER", d.mail_default_sender),
        api_keys=tuple(k.strip() for k in env.list("API_KEYS", [], subcast=str) if k.strip()),
        default_currency=env.str(
            "DEFAULT_CURRENCY",
            d.default_currency,
            validate=_check(_is_currency, "must be an ISO 4217 code"),
        ),
        gateway=env.str(
            "GATEWAY", d.gateway, validate=OneOf(GATEWAYS, error="must be one of {choices}")
        ),
        gateway_url=env.str(
            "GATEWAY_URL",
            d.gateway_url,
            validate=_check(_is_http_url, "must be an http:// or https:// URL"),
        ),
        stripe_api_key=env.str("STRIPE_API_KEY", d.stripe_api_key),
        stripe_webhook_secret=env.str("STRIPE_WEBHOOK_SECRET", d.stripe_webhook_secret),
        payment_action_timeout_s=env.int(
            "PAYMENT_ACTION_TIMEOUT_S", d.payment_action_timeout_s, validate=Range(min=1)
        ),
        gateway_webhook_url=env.str(
            "GATEWAY_WEBHOOK_URL",
            d.gateway_webhook_url,
            validate=_check(_is_http_url, "must be an http:// or https:// URL"),
        ),
        gateway_latency_ms=env.int(
            "GATEWAY_LATENCY_MS",
            d.gateway_latency_ms,
            validate=Range(min=0, max=MAX_GATEWAY_LATENCY_MS),
        ),
        gateway_transient_failure_rate=env.decimal(
            "GATEWAY_TRANSIENT_FAILURE_RATE",
            d.gateway_transient_failure_rate,
            validate=Range(min=0, max=1),
        ),
        gateway_timeout_ms=env.int(
            "GATEWAY_TIMEOUT_MS",
            d.gateway_timeout_ms,
            validate=Range(min=1, max=MAX_GATEWAY_TIMEOUT_MS),
        ),
        idempotency_key_ttl_hours=env.int(
            "IDEMPOTENCY_KEY_TTL_HOURS", d.idempotency_key_ttl_hours, validate=Range(min=1)
        ),
        idempotency_secret=env.str(
            "IDEMPOTENCY_SECRET",
            d.idempotency_secret,
            validate=Length(min=MIN_SECRET_LENGTH),
        ),
        api_key_secret=env.str(
            "API_KEY_SECRET", d.api_key_secret, validate=Length(min=MIN_SECRET_LENGTH)
        ),
        rate_limit=env.str(
            "RATE_LIMIT",
            d.rate_limit,
            validate=_check(
                _is_rate_limit, "must be limits such as 100/second;2000/minute, or off"
            ),
        ),
        db_pool_size=env.int("DB_POOL_SIZE", d.db_pool_size, validate=Range(min=1)),
        outbox_retention_hours=env.int(
            "OUTBOX_RETENTION_HOURS", d.outbox_retention_hours, validate=Range(min=1)
        ),
        stuck_after_seconds=env.int(
            "STUCK_AFTER_SECONDS", d.stuck_after_seconds, validate=Range(min=5)
        ),
        migration_lock_timeout_ms=env.int(
            "MIGRATION_LOCK_TIMEOUT_MS",
            d.migration_lock_timeout_ms,
            validate=Range(min=10, max=60_000),
        ),
        refund_retry_hours=env.decimal(
            "REFUND_RETRY_HOURS", d.refund_retry_hours, validate=Range(min=0, max=24 * 365)
        ),
        refund_delay_notice_hours=env.decimal(
            "REFUND_DELAY_NOTICE_HOURS",
            d.refund_delay_notice_hours,
            validate=Range(min=0, max=24 * 365),
        ),
        log_format=env.str("LOG_FORMAT", d.log_format, validate=OneOf(["text", "json"])),
        log_level=env.str("LOG_LEVEL", d.log_level),
        relay_metrics_port=env.int("RELAY_METRICS_PORT", d.relay_metrics_port, validate=port),
        worker_metrics_port=env.int("WORKER_METRICS_PORT", d.worker_metrics_port, validate=port),
        bridge_metrics_port=env.int("BRIDGE_METRICS_PORT", d.bridge_metrics_port, validate=port),
        metrics_host=env.str("METRICS_HOST", d.metrics_host),
    )
    if settings.gateway == "stripe" and not settings.stripe_api_key:
        raise ConfigError(
            "STRIPE_API_KEY: required when GATEWAY=stripe (a secret or restricted key)"
        )
    return settings


# Read verbatim: a password may begin or end with a space. Every other value is stripped.
VERBATIM = frozenset({"MAIL_PASSWORD"})
NORMALISED = {
    "DEFAULT_CURRENCY": str.upper,
    "LOG_FORMAT": str.lower,
    "LOG_LEVEL": str.upper,
    "GATEWAY": str.lower,
}


def _cleaned(env: Mapping[str, str]) -> dict[str, str]:
    """The non-blank values (a blank one means "the default"), stripped and normalised."""
    cleaned = {}
    for name, raw in env.items():
        value = raw if name in VERBATIM else raw.strip()
        if value.strip():
            cleaned[name] = NORMALISED.get(name, str)(value)
    return cleaned


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from `env` (default: `.env` loaded into the process environment); a
    missing or malformed one raises ConfigError naming its variable."""
    if env is None:
        load_dotenv(Path.cwd() / ".env", override=False)
        env = dict(os.environ)
    values = _cleaned(env)
    try:
        return _read(_MappingEnv(values))
    except EnvError as err:
        raise ConfigError(_one_line(err, values)) from None


_NAMED = re.compile(r'^Environment variable "([^"]+)"')


# Never echoed in an error: secrets, and URLs that may carry credentials.
UNSHOWN = frozenset(
    {
        "MAIL_USERNAME",
        "MAIL_PASSWORD",
        "IDEMPOTENCY_SECRET",
        "API_KEYS",
        "STRIPE_API_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "DATABASE_URL",
        "REDIS_URL",
    }
)


def _one_line(err: EnvError, values: Mapping[str, str]) -> str:
    """`NAME: what is wrong, got 'value'` from environs' error (the value only where it
    cannot be a secret)."""
    messages = getattr(err, "error_messages", None) or [str(err)]
    text = "; ".join(str(m).rstrip(".") for m in messages)
    found = _NAMED.match(str(err))
    if found is None:
        return text
    name = found.group(1)
    shown = "" if name in UNSHOWN or name not in values else f", got {values[name]!r}"
    return f"{name}: {text}{shown}"
