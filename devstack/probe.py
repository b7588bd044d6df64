"""Checking whether each service answers, with short timeouts."""

from __future__ import annotations

import logging
import smtplib
import socket

from devstack.procs import answers_http
from devstack.settings import HostPort, libpq_url, url_path_name

TIMEOUT = 2.0


def tcp_open(address: HostPort, timeout: float = TIMEOUT) -> bool:
    """Whether something accepts TCP connections at the address."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_answers(url: str) -> bool:
    """Whether PostgreSQL answers `SELECT 1` at the URL; creates a missing database."""
    import psycopg

    conninfo = libpq_url(url)
    try:
        with psycopg.connect(conninfo, connect_timeout=int(TIMEOUT) + 1) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc) or "database" not in str(exc):
            return False
    create_database(conninfo)
    return True


def create_database(conninfo: str) -> None:
    """Create the URL's database by connecting to the `postgres` database."""
    import psycopg
    from psycopg import sql

    name = url_path_name(conninfo, "postgres")
    admin = psycopg.conninfo.make_conninfo(conninfo, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=int(TIMEOUT) + 1) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def redis_answers(url: str) -> bool:
    """Whether Redis answers PING at the URL."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def kafka_answers(servers: str, address: HostPort) -> bool:
    """Whether a Kafka broker answers a metadata request."""
    if not tcp_open(address):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        admin = KafkaAdminClient(bootstrap_servers=servers, request_timeout_ms=5000)
    except (KafkaError, OSError, ValueError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def smtp_answers(address: HostPort) -> bool:
    """Whether an SMTP server answers NOOP."""
    try:
        with smtplib.SMTP(address.host, address.port, timeout=TIMEOUT) as smtp:
            code, _ = smtp.noop()
            return code == 250
    except (OSError, smtplib.SMTPException):
        return False


def simulator_answers(url: str) -> bool:
    """Whether the gateway simulator answers at `url` (its own health path)."""
    return answers_http(f"{url.rstrip('/')}/_simulator/health")
