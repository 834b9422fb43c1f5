"""Console users, their browser sessions and failed logins (tables of migration step 2).

Rows only: password hashing lives in :mod:`prai.console.passwords`, roles and
sessions' rules in :mod:`prai.console`. Functions ending in ``_in`` run inside the
caller's transaction, so a change and its audit record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine

from prai.db.schema import admin_login_failures_table, admin_sessions_table, admin_users_table


@dataclass(frozen=True)
class AdminUser:
    """One console user as stored.

    Attributes:
        role: ``platform-admin``, ``tenant-admin`` or ``auditor``.
        tenant: the tenant a ``tenant-admin`` acts on; None for the other roles.
        password_hash: ``scrypt$...`` (never the password).
        must_change_password: the password was generated (shown once); the user must
            choose a new one before anything else.
        created_at / password_changed_at: epoch seconds.
        created_by: who created the user (``PRAI_ACTOR`` or ``USER@HOST``).
    """

    username: str
    role: str
    tenant: str | None
    password_hash: str
    must_change_password: bool
    disabled: bool
    created_at: float
    created_by: str
    password_changed_at: float


@dataclass(frozen=True)
class SessionRow:
    """A browser session (``token_hash`` = SHA-256 hex of the cookie's token); times in epoch s."""

    token_hash: str
    username: str
    created_at: float
    last_seen: float
    expires_at: float
    client: str | None


def _user(row: Any) -> AdminUser:
    m = dict(row._mapping)
    m["must_change_password"] = bool(m["must_change_password"])
    m["disabled"] = bool(m["disabled"])
    return AdminUser(**m)


def insert_user_in(conn: Any, user: AdminUser) -> None:
    """Store a new user (``IntegrityError`` when the name is taken)."""
    conn.execute(insert(admin_users_table).values(**user.__dict__))


def get_user_in(conn: Any, username: str) -> AdminUser | None:
    """The user, or None."""
    row = conn.execute(select(admin_users_table).where(admin_users_table.c.username == username)).first()
    return None if row is None else _user(row)


def get_user(engine: Engine, username: str) -> AdminUser | None:
    """The user, or None."""
    with engine.connect() as conn:
        return get_user_in(conn, username)


def list_users(engine: Engine) -> list[AdminUser]:
    """Every user, by name."""
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(admin_users_table).order_by(admin_users_table.c.username))]


def update_user_in(conn: Any, username: str, **values: Any) -> bool:
    """Change columns of a user; False when there is no such user."""
    res = conn.execute(update(admin_users_table).where(admin_users_table.c.username == username).values(**values))
    return bool(res.rowcount)


def insert_session_in(conn: Any, row: SessionRow) -> None:
    """Store a new session."""
    conn.execute(insert(admin_sessions_table).values(**row.__dict__))


def get_session(engine: Engine, token_hash: str) -> tuple[SessionRow, AdminUser] | None:
    """The session and its user, or None when either is gone."""
    with engine.connect() as conn:
        row = conn.execute(
            select(admin_sessions_table).where(admin_sessions_table.c.token_hash == token_hash)
        ).first()
        if row is None:
            return None
        user = get_user_in(conn, row.username)
    return (SessionRow(**dict(row._mapping)), user) if user is not None else None


def touch_session(engine: Engine, token_hash: str, now: float) -> None:
    """Record activity on a session (idle timeout counts from ``last_seen``)."""
    with engine.begin() as conn:
        conn.execute(
            update(admin_sessions_table).where(admin_sessions_table.c.token_hash == token_hash).values(last_seen=now)
        )


def delete_session_in(conn: Any, token_hash: str) -> bool:
    """End one session; False when it did not exist."""
    res = conn.execute(delete(admin_sessions_table).where(admin_sessions_table.c.token_hash == token_hash))
    return bool(res.rowcount)


def delete_user_sessions_in(conn: Any, username: str, *, keep: str | None = None) -> int:
    """End every session of a user (but ``keep``, a token hash); returns how many."""
    q = delete(admin_sessions_table).where(admin_sessions_table.c.username == username)
    if keep is not None:
        q = q.where(admin_sessions_table.c.token_hash != keep)
    return int(conn.execute(q).rowcount or 0)


def purge_expired_in(conn: Any, *, sessions_before: float, failures_before: float) -> None:
    """Delete sessions that expired before ``sessions_before`` and failed-login rows older
    than ``failures_before`` (epoch s)."""
    conn.execute(delete(admin_sessions_table).where(admin_sessions_table.c.expires_at < sessions_before))
    conn.execute(delete(admin_login_failures_table).where(admin_login_failures_table.c.ts < failures_before))


def record_login_failure_in(conn: Any, username: str, client: str | None, ts: float) -> None:
    """Remember one failed login (for throttling)."""
    conn.execute(insert(admin_login_failures_table).values(ts=ts, username=username, client=client))


def clear_login_failures_in(conn: Any, username: str) -> int:
    """Forget a user's failed logins (after a successful one, a password reset or an enable);
    returns how many were forgotten."""
    res = conn.execute(delete(admin_login_failures_table).where(admin_login_failures_table.c.username == username))
    return int(res.rowcount or 0)


def login_failures(engine: Engine, *, username: str, client: str | None, since: float) -> tuple[
    tuple[int, float | None], tuple[int, float | None]
]:
    """Failed logins since ``since`` (epoch s): ``((count, oldest ts) for the user,
    (count, oldest ts) for the client address)``."""
    t = admin_login_failures_table
    with engine.connect() as conn:
        by_user = conn.execute(
            select(func.count(), func.min(t.c.ts)).where(t.c.username == username, t.c.ts >= since)
        ).one()
        by_client = (0, None)
        if client:
            row = conn.execute(
                select(func.count(), func.min(t.c.ts)).where(t.c.client == client, t.c.ts >= since)
            ).one()
            by_client = (int(row[0]), row[1])
    return (int(by_user[0]), by_user[1]), by_client


__all__ = [
    "AdminUser",
    "SessionRow",
    "clear_login_failures_in",
    "delete_session_in",
    "delete_user_sessions_in",
    "get_session",
    "get_user",
    "get_user_in",
    "insert_session_in",
    "insert_user_in",
    "list_users",
    "login_failures",
    "purge_expired_in",
    "record_login_failure_in",
    "touch_session",
    "update_user_in",
]
