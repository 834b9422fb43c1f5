"""Versioned schema migrations, applied once under a lock.

Every process that opens the database calls :func:`migrate`. It takes a lock — on
PostgreSQL a transaction-scoped advisory lock (``pg_advisory_xact_lock``), on SQLite an
exclusive ``flock`` on ``<database>.migrate.lock`` beside the file — reads the version in
``prai_schema`` and applies the missing steps of :data:`MIGRATIONS` in order, in the same
transaction (PostgreSQL DDL is transactional). So any number of gateway replicas starting
at once on an empty database all start: one applies the steps, the others wait for the
lock and then find nothing to do.

A database created before versioning (tables present, no ``prai_schema``) is at version 0:
step 1 is idempotent (creates what is missing, adds columns older releases lacked).
To change the schema, append a step; never edit a released one.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import insert, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine

from prai.db import schema as s

#: advisory-lock key for PostgreSQL (any constant unique to PrAI)
_PG_LOCK_KEY = 0x70726169  # "prai"


def _v1_base(conn: Connection) -> None:
    """Keys, counters, audit log and head, model registry (the tables of PrAI 0.1)."""
    s.metadata.create_all(
        conn,
        tables=[s.keys_table, s.meta_table, s.audit_table, s.head_table, s.model_versions_table,
                s.aliases_table, s.model_events_table],
    )
    have = {c["name"] for c in inspect(conn).get_columns("prai_audit")}
    if "detail" not in have:  # databases created before the model registry
        conn.exec_driver_sql("ALTER TABLE prai_audit ADD COLUMN detail TEXT")
    for name in ("keys_version", "models_version"):
        if conn.execute(select(s.meta_table.c.value).where(s.meta_table.c.name == name)).first() is None:
            conn.execute(insert(s.meta_table).values(name=name, value=0))
    if conn.execute(select(s.head_table.c.seq).where(s.head_table.c.id == 1)).first() is None:
        conn.execute(insert(s.head_table).values(id=1, seq=0, hash=s.GENESIS))


def _v2_console(conn: Connection) -> None:
    """Console and admin API: users, browser sessions, failed logins (issue 17)."""
    s.metadata.create_all(
        conn, tables=[s.admin_users_table, s.admin_sessions_table, s.admin_login_failures_table]
    )


#: the steps, in order; step N brings the schema from version N-1 to N
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_base, _v2_console]


def schema_version(conn: Connection) -> int:
    """The stored schema version (0 when ``prai_schema`` does not exist yet)."""
    if not inspect(conn).has_table(s.schema_table.name):
        return 0
    v = conn.execute(select(s.schema_table.c.version).where(s.schema_table.c.id == 1)).scalar()
    return int(v or 0)


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    db = engine.url.database
    if not db or db == ":memory:":
        yield
        return
    lock_path = Path(f"{db}.migrate.lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def migrate(engine: Engine) -> int:
    """Bring the schema to the newest version; returns the version reached.

    Safe to call from many processes at once (see the module docstring).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database refused a step (the transaction is
            rolled back: the schema stays at the last complete version).
    """
    target = len(MIGRATIONS)
    lock: Any = _sqlite_file_lock(engine) if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    with lock, engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
        current = schema_version(conn)
        if current >= target:
            return current
        s.metadata.create_all(conn, tables=[s.schema_table])
        for step in MIGRATIONS[current:]:
            step(conn)
        if conn.execute(select(s.schema_table.c.id).where(s.schema_table.c.id == 1)).first() is None:
            conn.execute(insert(s.schema_table).values(id=1, version=target))
        else:
            conn.execute(update(s.schema_table).where(s.schema_table.c.id == 1).values(version=target))
    return target


__all__ = ["MIGRATIONS", "migrate", "schema_version"]
