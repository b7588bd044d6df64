"""Reading the service settings and writing the effective ones to `.run/stack.env`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from payments.config import SIMULATOR_URL, TOPIC_VARIABLES, Settings

_SERVICE = Settings()  # the service's own defaults, written once in payments.config
DEFAULTS: dict[str, str] = {
    "DATABASE_URL": _SERVICE.database_url,
    "REDIS_URL": _SERVICE.redis_url,
    "KAFKA_BOOTSTRAP_SERVERS": _SERVICE.kafka_bootstrap_servers,
    "MAIL_SERVER": _SERVICE.mail_server,
    "MAIL_PORT": str(_SERVICE.mail_port),
    "GATEWAY_URL": SIMULATOR_URL,
}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", ""})


class SettingError(ValueError):
    """A setting is malformed; the message names the variable."""


@dataclass(frozen=True)
class HostPort:
    """A host and a TCP port."""

    host: str
    port: int

    @property
    def is_local(self) -> bool:
        """Whether the address is on this machine (so we may start a service there)."""
        return self.host in LOCAL_HOSTS


def load(env: Mapping[str, str], dotenv: Mapping[str, str | None]) -> dict[str, str]:
    """Merge defaults, `.env` values and the environment (environment wins)."""
    merged = dict(DEFAULTS)
    merged.update({name: name for name in TOPIC_VARIABLES})
    merged.update({k: v for k, v in dotenv.items() if v is not None})
    merged.update(env)
    return merged


def read_dotenv(path: Path) -> dict[str, str | None]:
    """Read a dotenv file with python-dotenv; a missing file gives an empty mapping."""
    from dotenv import dotenv_values

    return dict(dotenv_values(path)) if path.is_file() else {}


def libpq_url(url: str) -> str:
    """Turn an SQLAlchemy-style URL (`postgresql+psycopg://...`) into a libpq one."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme.startswith(("postgresql", "postgres")):
        raise SettingError(f"DATABASE_URL is not a postgresql:// URL: {redact(url)}")
    return "postgresql://" + rest


def url_address(url: str, default_port: int, name: str) -> HostPort:
    """The host and port of a URL such as `redis://h:6379/0`."""
    try:
        parts = urlsplit(url)
        port = parts.port or default_port
    except ValueError as exc:
        raise SettingError(f"{name} is malformed: {exc}") from None
    if not parts.scheme or parts.hostname is None:
        raise SettingError(f"{name} has no host: {redact(url)}")
    return HostPort(parts.hostname, port)


def with_address(url: str, address: HostPort) -> str:
    """Return the URL with its host and port replaced, keeping user, path and query."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{address.host}:{address.port}"
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def url_path_name(url: str, default: str) -> str:
    """The first path segment of a URL (the database name), or the default."""
    return urlsplit(url).path.lstrip("/").split("/")[0] or default


def url_user(url: str, default: str) -> str:
    """The user name of a URL, or the default."""
    return urlsplit(url).username or default


def first_bootstrap(servers: str) -> HostPort:
    """The first `host:port` of KAFKA_BOOTSTRAP_SERVERS."""
    first = servers.split(",")[0].strip()
    host, sep, port = first.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SettingError(f"KAFKA_BOOTSTRAP_SERVERS is not host:port: {servers!r}")
    return HostPort(host.strip("[]"), int(port))


def mail_address(settings: Mapping[str, str]) -> HostPort:
    """MAIL_SERVER and MAIL_PORT as an address."""
    port = settings["MAIL_PORT"]
    if not port.isdigit():
        raise SettingError(f"MAIL_PORT is not a port number: {port!r}")
    return HostPort(settings["MAIL_SERVER"], int(port))


def redact(url: str) -> str:
    """The URL with any password replaced by `***` (for log lines)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def format_env(values: Mapping[str, str]) -> str:
    """Render KEY=VALUE lines (values quoted only when the shell would need it)."""
    lines = ["# written by `python -m devstack`; effective service settings"]
    for key, value in values.items():
        if "\n" in value:
            raise SettingError(f"{key} contains a newline")
        if "'" in value:
            raise SettingError(f"{key} contains a single quote, which .run/stack.env cannot hold")
        plain = not any(c in value for c in ' \t#"$`\\')
        lines.append(f"{key}={value}" if plain else f"{key}='{value}'")
    return "\n".join(lines) + "\n"


def write_env(path: Path, values: Mapping[str, str]) -> None:
    """Write the effective settings atomically to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(format_env(values))
    os.replace(tmp, path)


STACK_KEYS: tuple[str, ...] = (*DEFAULTS, *TOPIC_VARIABLES)
