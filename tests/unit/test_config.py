"""Settings come from the environment, and a bad one names its variable."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.config import TOPIC_VARIABLES, ConfigError, from_env


def test_defaults_follow_the_contract() -> None:
    settings = from_env({})
    assert settings.topics.payment_created == "PAYMENT_CREATED_TOPIC"
    assert settings.topics.all() == list(TOPIC_VARIABLES)  # each default is its own name
    assert settings.topics.event_cancelled == "EVENT_CANCELLED_TOPIC"
    assert settings.rate_limit == "100/second;2000/minute"
    assert (settings.outbox_retention_hours, settings.stuck_after_seconds) == (168, 120)
    assert settings.default_currency == "USD"
    assert settings.gateway_latency_ms == 0
    assert settings.gateway_transient_failure_rate == Decimal("0")
    assert settings.idempotency_key_ttl_hours == 24
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_values_are_read_and_normalised() -> None:
    settings = from_env(
        {
            "DATABASE_URL": "postgresql://u:secret@db:5432/pay",
            "API_KEYS": " a, b ,,",
            "PAYMENT_SUCCEEDED_TOPIC": "payments.succeeded",
            "DEFAULT_CURRENCY": "brl",
            "MAIL_USE_TLS": "true",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u:secret@db:5432/pay"
    assert settings.api_keys == ("a", "b")
    assert settings.topics.payment_succeeded == "payments.succeeded"
    assert settings.default_currency == "BRL"
    assert settings.mail_use_tls is True


def test_describe_hides_secrets() -> None:
    settings = from_env(
        {
            "DATABASE_URL": "postgresql://u:secret@db/pay",
            "API_KEYS": "k1,k2",
            "IDEMPOTENCY_SECRET": "hmac-key-0123456789",
        }
    )
    described = str(settings.describe()) + repr(settings)
    assert "secret" not in described and "k1" not in described
    assert "hmac-key-0123456789" not in described
    assert "u:***@db/pay" in described


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAIL_PORT", "smtp"),
        ("GATEWAY_LATENCY_MS", "-5"),
        ("GATEWAY_LATENCY_MS", "120001"),
        ("GATEWAY_TRANSIENT_FAILURE_RATE", "1.5"),
        ("GATEWAY_TRANSIENT_FAILURE_RATE", "often"),
        ("DEFAULT_CURRENCY", "XYZ1"),
        ("DEFAULT_CURRENCY", "QQQ"),
        ("IDEMPOTENCY_KEY_TTL_HOURS", "0"),
        ("IDEMPOTENCY_SECRET", "too-short"),
        ("RATE_LIMIT", "lots"),
        ("RATE_LIMIT", "100/fortnight"),
        ("DATABASE_URL", "mysql://x"),
        ("REDIS_URL", "http://x"),
        ("MAIL_USE_SSL", "maybe"),
        ("LOG_FORMAT", "xml"),
    ],
)
def test_malformed_setting_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        from_env({name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("IDEMPOTENCY_SECRET", "short-secret"), ("DATABASE_URL", "mysql://u:pw-0123@db/x")],
)
def test_a_bad_secret_or_url_is_named_but_never_echoed(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name) as raised:
        from_env({name: value})
    assert value not in str(raised.value) and "pw-0123" not in str(raised.value)


def test_a_bad_plain_value_is_echoed_to_help() -> None:
    with pytest.raises(ConfigError, match="^STUCK_AFTER_SECONDS: .*, got '2'$"):
        from_env({"STUCK_AFTER_SECONDS": "2"})


def test_blank_means_default_and_values_are_trimmed() -> None:
    settings = from_env({"MAIL_PORT": "  ", "KAFKA_GROUP_ID": " g1 ", "MAIL_PASSWORD": " p w "})
    assert settings.mail_port == 8025
    assert settings.kafka_group_id == "g1"
    assert settings.mail_password == " p w "  # a password is read verbatim
