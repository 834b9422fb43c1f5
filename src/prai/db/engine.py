"""Database URLs and SQLAlchemy engines (SQLite WAL by default, PostgreSQL for several
processes), and the ``prai_meta`` change counters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from prai.db.migrations import migrate
from prai.db.schema import meta_table
from prai.errors import StorageError


def normalize_url(url: str) -> str:
    """``postgresql://`` (and ``postgres://``) → ``postgresql+psycopg://`` (psycopg 3);
    others unchanged."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def open_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine and bring the schema up to date (:func:`~prai.db.migrations.migrate`).

    SQLite gets WAL, ``synchronous=FULL``, a 10 s busy timeout (several processes on one
    host can share it) and a 1 MiB page cache per connection (the gateway's memory stays
    flat however large the audit log grows).

    Raises:
        StorageError: the database cannot be reached or the tables cannot be created.
    """
    url = normalize_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if str(path) not in ("", ":memory:"):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"{path.parent}: cannot create ({exc.strerror})") from None
    try:
        # PostgreSQL: fail a connection attempt after 5 s instead of the OS's minutes, so an
        # unreachable database delays nothing but the audit thread's next retry.
        connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
        engine = create_engine(url, pool_pre_ping=True, future=True, connect_args=connect_args)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StorageError(f"storage URL not usable: {type(exc).__name__}") from None
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA cache_size=-1024")  # 1 MiB page cache: bounded memory
            cur.close()

    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        cause, hint = _cause(exc, engine)
        raise StorageError(
            f"cannot open the gateway database ({engine.dialect.name}): {cause}", hint=hint
        ) from None
    return engine


def _cause(exc: SQLAlchemyError, engine: Engine) -> tuple[str, str | None]:
    """The driver's first line (the password never in it) and a hint for the common causes."""
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).splitlines() if ln.strip()]
    line = " ".join(lines[0].split()) if lines else type(exc).__name__
    password = engine.url.password
    if password:
        line = line.replace(str(password), "***")
    if len(line) > 300:
        line = line[:300] + "…"
    db = engine.url.database or ""
    if "does not exist" in line and db and f'"{db}"' in line:
        return line, (
            f"create it (`createdb {db}`, as a PostgreSQL user who may) or fix the database "
            "name in gateway.storage.url"
        )
    if "password authentication failed" in line or ("role" in line and "does not exist" in line):
        return line, "fix the user or password in gateway.storage.url"
    if "Connection refused" in line or "could not translate host name" in line or "timeout" in line:
        return line, "start the database, or fix the host and port in gateway.storage.url"
    return line, None


def bump_version(conn: Any, name: str) -> None:
    """Increment the ``prai_meta`` counter ``name`` inside the caller's transaction."""
    conn.execute(update(meta_table).where(meta_table.c.name == name).values(value=meta_table.c.value + 1))


def meta_version(engine: Engine, name: str) -> int:
    """The value of the ``prai_meta`` counter ``name`` (0 when absent)."""
    with engine.connect() as conn:
        v = conn.execute(select(meta_table.c.value).where(meta_table.c.name == name)).scalar()
    return int(v or 0)


__all__ = ["bump_version", "meta_version", "normalize_url", "open_engine"]
