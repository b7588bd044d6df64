"""SQL for the api_keys table (contract section 11): only hashes are stored."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, exists, func, select, text, update
from sqlalchemy.dialects.postgresql import insert

from payments.db.tables import api_keys


@dataclass(frozen=True)
class KeyRow:
    """A stored key, without any secret."""

    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class SqlApiKeys:
    """The api_keys table on a connection."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def add(self, name: str, prefix: str, digest: bytes, scopes: Sequence[str]) -> bool:
        """Insert a key; False when the name is taken."""
        statement = (
            insert(api_keys)
            .values(name=name, prefix=prefix, key_hash=digest, scopes=list(scopes))
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(api_keys.c.name)
        )
        return self.conn.execute(statement).first() is not None

    def active_by_hash(self, digest: bytes) -> KeyRow | None:
        """The key with this hash, unless it is revoked."""
        row = self.conn.execute(
            select(api_keys).where(api_keys.c.key_hash == digest, api_keys.c.revoked_at.is_(None))
        ).first()
        return _row(row) if row is not None else None

    def note_use(self, name: str) -> None:
        """Record the key's last use (at most once a minute: a write per request would cost)."""
        self.conn.execute(
            update(api_keys)
            .where(
                api_keys.c.name == name,
                (api_keys.c.last_used_at.is_(None))
                | (api_keys.c.last_used_at < func.now() - text("interval '1 minute'")),
            )
            .values(last_used_at=func.now())
        )

    def revoke(self, name: str) -> bool:
        """Revoke the active key `name`; False when there is none."""
        result = self.conn.execute(
            update(api_keys)
            .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
        )
        return bool(result.rowcount)

    def every_key(self) -> list[KeyRow]:
        """Every key, revoked ones too, by name."""
        return [_row(r) for r in self.conn.execute(select(api_keys).order_by(api_keys.c.name))]

    def any_key(self) -> bool:
        """Whether any key was ever created."""
        return bool(self.conn.execute(select(exists().select_from(api_keys))).scalar())


def _row(row: object) -> KeyRow:
    m = row._mapping  # type: ignore[attr-defined]
    return KeyRow(
        m["name"], m["prefix"], list(m["scopes"]), m["created_at"], m["last_used_at"],
        m["revoked_at"],
    )  # fmt: skip
