"""Pure parts of devstack: settings merge, URL handling, the stack.env format."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from devstack import settings
from devstack.settings import HostPort, SettingError
from payments.config import TOPIC_VARIABLES


def test_defaults_dotenv_and_environment_merge_with_environment_winning() -> None:
    merged = settings.load(
        {"REDIS_URL": "redis://env:1/0"},
        {"REDIS_URL": "redis://dotenv:2/0", "MAIL_PORT": "2525", "EMPTY": None},
    )
    assert merged["REDIS_URL"] == "redis://env:1/0"
    assert merged["MAIL_PORT"] == "2525"
    assert merged["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"
    assert merged["PAYMENT_FAILED_TOPIC"] == "PAYMENT_FAILED_TOPIC"
    assert "EMPTY" not in merged


def test_libpq_url_strips_the_driver() -> None:
    url = "postgresql+psycopg://root@127.0.0.1:5432/test"
    assert settings.libpq_url(url) == "postgresql://root@127.0.0.1:5432/test"
    with pytest.raises(SettingError, match="DATABASE_URL"):
        settings.libpq_url("mysql://x/y")


def test_url_address_and_replacement_keep_credentials_and_path() -> None:
    url = "postgresql+psycopg://u:secret@db.example:6543/payments?sslmode=disable"
    assert settings.url_address(url, 5432, "DATABASE_URL") == HostPort("db.example", 6543)
    moved = settings.with_address(url, HostPort("127.0.0.1", 55432))
    assert moved == "postgresql+psycopg://u:secret@127.0.0.1:55432/payments?sslmode=disable"
    assert settings.url_address("redis://localhost/0", 6379, "REDIS_URL").port == 6379


def test_malformed_urls_name_the_variable() -> None:
    with pytest.raises(SettingError, match="REDIS_URL"):
        settings.url_address("redis://h:notaport/0", 6379, "REDIS_URL")
    with pytest.raises(SettingError, match="REDIS_URL"):
        settings.url_address("no-scheme", 6379, "REDIS_URL")


def test_url_parts() -> None:
    assert settings.url_path_name("postgresql://u@h/test", "x") == "test"
    assert settings.url_path_name("postgresql://u@h", "postgres") == "postgres"
    assert settings.url_user("postgresql://root@h/test", "postgres") == "root"
    assert settings.url_user("postgresql://h/test", "postgres") == "postgres"


def test_bootstrap_and_mail_addresses() -> None:
    assert settings.first_bootstrap("a:9092, b:9093") == HostPort("a", 9092)
    assert settings.first_bootstrap("[::1]:9092") == HostPort("::1", 9092)
    with pytest.raises(SettingError, match="KAFKA_BOOTSTRAP_SERVERS"):
        settings.first_bootstrap("kafka")
    assert settings.mail_address({"MAIL_SERVER": "m", "MAIL_PORT": "1025"}) == HostPort("m", 1025)
    with pytest.raises(SettingError, match="MAIL_PORT"):
        settings.mail_address({"MAIL_SERVER": "m", "MAIL_PORT": "smtp"})


def test_local_hosts() -> None:
    assert HostPort("127.0.0.1", 1).is_local
    assert HostPort("localhost", 1).is_local
    assert not HostPort("kafka", 1).is_local


def test_redact_hides_passwords_only() -> None:
    assert settings.redact("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert settings.redact("redis://h:6379/0") == "redis://h:6379/0"


def test_stack_env_round_trips_through_python_dotenv(tmp_path: Path) -> None:
    values = {
        "DATABASE_URL": "postgresql+psycopg://root@127.0.0.1:5432/test",
        "ODD": "a value with $dollar and #hash",
    }
    path = tmp_path / "run" / "stack.env"
    settings.write_env(path, values)
    text = path.read_text()
    assert text.startswith("# ")
    assert "DATABASE_URL=postgresql+psycopg://root@127.0.0.1:5432/test\n" in text
    assert dotenv_values(path) == values
    assert not path.with_suffix(".tmp").exists()


def test_stack_env_refuses_values_it_cannot_represent() -> None:
    with pytest.raises(SettingError, match="X"):
        settings.format_env({"X": "it's"})
    with pytest.raises(SettingError, match="Y"):
        settings.format_env({"Y": "a\nb"})


def test_stack_keys_cover_services_and_topics() -> None:
    assert settings.STACK_KEYS[:6] == (
        "DATABASE_URL",
        "REDIS_URL",
        "KAFKA_BOOTSTRAP_SERVERS",
        "MAIL_SERVER",
        "MAIL_PORT",
        "GATEWAY_URL",  # the gateway simulator's, started when nothing answers there
    )
    assert settings.STACK_KEYS[6:] == TOPIC_VARIABLES  # every topic, the refunds' too
