"""API keys with scopes (contract section 11): made, hashed, looked up and revoked.

A key is 256 random bits, so it cannot be guessed or brute-forced from its hash: a fast
keyed hash (HMAC-SHA256 with API_KEY_SECRET) is the right tool, not a slow password hash
(bcrypt, scrypt, Argon2 exist to stretch low-entropy passwords; here they would only cost CPU
on every request). The keyed hash also means a leaked table cannot even be checked against a
guessed key without the secret. Only the hash is stored, with the key's name, scopes and a
short prefix that is not secret (for telling keys apart in `flask keys list`).

A lookup reads the hash's row by its unique index; the hash is compared in the database,
which leaks nothing useful (an attacker does not control the hash's bytes). `API_KEYS` keys
are compared in constant time, each against every one (`web.auth`).

Each API process keeps what it looked up for KEY_CACHE_S, so that a revoked key is refused by
every process within that time (section 11: 5 s) without a database read per request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine

from payments.db.api_key_store import SqlApiKeys
from payments.errors import PaymentsError

KEY_CACHE_S = 2.0  # a revocation reaches every API process within this (contract: 5 s)
KEY_PREFIX = "pk_"
PREFIX_LENGTH = 11  # "pk_" and 8 characters of the key: shown, never enough to use


class Scope(StrEnum):
    """What a key may do (contract section 11)."""

    PAYMENTS_WRITE = "payments:write"
    PAYMENTS_READ = "payments:read"
    REFUNDS_WRITE = "refunds:write"
    EVENTS_WRITE = "events:write"
    EVENTS_READ = "events:read"


ALL_SCOPES = frozenset(Scope)


class KeyRefused(PaymentsError):
    """A key that cannot be made or revoked as asked (a name taken, unknown, no scope)."""


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: the key's name (None for an `API_KEYS` key) and scopes."""

    name: str | None
    scopes: frozenset[str]


def hash_key(secret: str, key: str) -> bytes:
    """The stored form of a key: HMAC-SHA256 with API_KEY_SECRET."""
    return hmac.new(secret.encode("utf-8"), key.encode("utf-8"), hashlib.sha256).digest()


def new_key() -> str:
    """A new key: `pk_` and 256 random bits, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create(conn: Connection, secret: str, name: str, scopes: Sequence[str]) -> str:
    """Store a new key under `name` with `scopes`; the key itself, to be shown once."""
    wanted = sorted(set(scopes))
    if not wanted:
        raise KeyRefused("a key needs at least one --scope")
    unknown = [s for s in wanted if s not in ALL_SCOPES]
    if unknown:
        raise KeyRefused(f"unknown scope(s): {', '.join(unknown)}")
    key = new_key()
    if not SqlApiKeys(conn).add(name, key[:PREFIX_LENGTH], hash_key(secret, key), wanted):
        raise KeyRefused(f"a key named {name!r} exists already")
    return key


def revoke(conn: Connection, name: str) -> None:
    """Revoke the key named `name` (KeyRefused if there is none, or it is revoked already)."""
    if not SqlApiKeys(conn).revoke(name):
        raise KeyRefused(f"no active key named {name!r}")


class KeyRing:
    """The keys as one API process sees them: looked up by hash, kept KEY_CACHE_S."""

    def __init__(
        self,
        engine: Engine,
        secret: str,
        clock: Callable[[], float] = time.monotonic,
        ttl_s: float = KEY_CACHE_S,
    ):
        self.engine, self.secret, self.clock, self.ttl_s = engine, secret, clock, ttl_s
        self._lock = threading.Lock()
        self._found: dict[bytes, tuple[float, Caller | None]] = {}
        self._any: tuple[float, bool] | None = None

    def any_key(self) -> bool:
        """Whether a key has ever been created (then authentication is required)."""
        now = self.clock()
        with self._lock:
            if self._any is not None and now - self._any[0] < self.ttl_s:
                return self._any[1]
        with self.engine.connect() as conn:
            found = SqlApiKeys(conn).any_key()
        with self._lock:
            self._any = (now, found)
        return found

    def caller(self, key: str) -> Caller | None:
        """The active key's caller, or None (unknown or revoked); its last use is noted."""
        digest = hash_key(self.secret, key)
        now = self.clock()
        with self._lock:
            cached = self._found.get(digest)
            if cached is not None and now - cached[0] < self.ttl_s:
                return cached[1]
        with self.engine.begin() as conn:
            stored = SqlApiKeys(conn)
            row = stored.active_by_hash(digest)
            if row is not None:
                stored.note_use(row.name)
        caller = Caller(row.name, frozenset(row.scopes)) if row is not None else None
        with self._lock:
            if len(self._found) > 10_000:  # a flood of random keys: forget, do not grow
                self._found.clear()
            self._found[digest] = (now, caller)
        return caller
