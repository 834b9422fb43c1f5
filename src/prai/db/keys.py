"""API key rows (hashes only; the key itself is never stored)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from prai.db.engine import bump_version, meta_version
from prai.db.schema import keys_table


@dataclass(frozen=True)
class KeyRecord:
    """One API key as stored (never the key itself)."""

    id: str
    key_hash: str
    tenant: str
    project: str
    name: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def state(self, now: float | None = None) -> str:
        """``active``, ``revoked`` or ``expired``."""
        now = time.time() if now is None else now
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _bump_keys_version(conn: Any) -> None:
    bump_version(conn, "keys_version")


def insert_key(engine: Engine, rec: KeyRecord) -> None:
    """Store a new key row and bump ``keys_version``."""
    with engine.begin() as conn:
        insert_key_in(conn, rec)


def insert_key_in(conn: Any, rec: KeyRecord) -> None:
    """:func:`insert_key` inside the caller's transaction (with its audit record)."""
    conn.execute(insert(keys_table).values(**rec.__dict__))
    _bump_keys_version(conn)


def revoke_key(engine: Engine, key_id: str, *, now: float | None = None) -> bool:
    """Mark a key revoked; False when no such id. Bumps ``keys_version``."""
    with engine.begin() as conn:
        return revoke_key_in(conn, key_id, now=now)


def revoke_key_in(conn: Any, key_id: str, *, now: float | None = None) -> bool:
    """:func:`revoke_key` inside the caller's transaction."""
    res = conn.execute(
        update(keys_table).where(keys_table.c.id == key_id).values(revoked_at=time.time() if now is None else now)
    )
    if res.rowcount == 0:
        return False
    _bump_keys_version(conn)
    return True


def set_key_expiry_in(conn: Any, key_id: str, expires_at: float | None) -> bool:
    """Set (or clear, with None) a key's expiry time (epoch s) in the caller's transaction;
    False when no such id. Bumps ``keys_version``."""
    res = conn.execute(update(keys_table).where(keys_table.c.id == key_id).values(expires_at=expires_at))
    if res.rowcount == 0:
        return False
    _bump_keys_version(conn)
    return True


def get_key_in(conn: Any, key_id: str) -> KeyRecord | None:
    """One key row, or None."""
    row = conn.execute(select(keys_table).where(keys_table.c.id == key_id)).first()
    return None if row is None else KeyRecord(**dict(row._mapping))


def keys_version(engine: Engine) -> int:
    """The key store's change counter."""
    return meta_version(engine, "keys_version")


def list_keys(engine: Engine, *, tenant: str | None = None, project: str | None = None) -> list[KeyRecord]:
    """Every key row (optionally one tenant's, one project's), oldest first."""
    q = select(keys_table).order_by(keys_table.c.created_at)
    if tenant:
        q = q.where(keys_table.c.tenant == tenant)
    if project:
        q = q.where(keys_table.c.project == project)
    with engine.connect() as conn:
        return [KeyRecord(**dict(r._mapping)) for r in conn.execute(q)]


def key_scopes(engine: Engine) -> set[tuple[str, str]]:
    """Every (tenant, project) that holds a key in the store, revoked or expired ones included."""
    q = select(keys_table.c.tenant, keys_table.c.project).distinct()
    with engine.connect() as conn:
        return {(str(r.tenant), str(r.project)) for r in conn.execute(q)}


__all__ = [
    "KeyRecord",
    "get_key_in",
    "insert_key",
    "insert_key_in",
    "key_scopes",
    "keys_version",
    "list_keys",
    "revoke_key",
    "revoke_key_in",
    "set_key_expiry_in",
]
