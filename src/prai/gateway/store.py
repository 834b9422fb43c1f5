"""The gateway's database: API keys (hashes only) and the hash-chained audit log.

SQLAlchemy Core on SQLite (WAL, the default) or PostgreSQL (several gateway processes).
Tables:

- ``prai_keys``: one row per key: id, SHA-256 of the key, tenant, project, times (epoch s).
- ``prai_meta``: counters; ``keys_version`` grows on every key change so each gateway's
  in-memory key cache knows when to reload (see :mod:`prai.gateway.auth`).
- ``prai_audit``: append-only records; ``hash = sha256(prev_hash + canonical JSON)``.
- ``prai_audit_head``: the last sequence number and hash, so deleting the newest records
  is detected too.
- ``prai_model_versions``, ``prai_aliases``, ``prai_model_events``: the model and adapter
  registry of :mod:`prai.lifecycle.registry` (versions keyed by bundle root digest, the
  alias → version routing table, its history); ``models_version`` in ``prai_meta`` grows on
  every routing change so each gateway reloads its alias table.

Times are integers in microseconds since the epoch (``*_us``) so that hashing never
depends on float formatting.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    insert,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from prai.errors import StorageError

metadata = MetaData()

keys_table = Table(
    "prai_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("tenant", String(64), nullable=False),
    Column("project", String(64), nullable=False),
    Column("name", String(128), nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=True),
    Column("revoked_at", Float, nullable=True),
)

meta_table = Table(
    "prai_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

AUDIT_FIELDS: tuple[str, ...] = (
    "rid",
    "ts_us",
    "tenant",
    "project",
    "key_id",
    "model",
    "adapter",
    "endpoint",
    "stream",
    "status",
    "error_type",
    "prompt_tokens",
    "completion_tokens",
    "ttft_us",
    "latency_us",
    "gateway_us",
    "upstream",
    "client",
    "guard",
    "prompt",
    "detail",
)

audit_table = Table(
    "prai_audit",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("rid", String(32), nullable=False, unique=True),
    Column("ts_us", BigInteger, nullable=False, index=True),
    Column("tenant", String(64), nullable=True, index=True),
    Column("project", String(64), nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("model", String(256), nullable=True),
    Column("adapter", String(256), nullable=True),
    Column("endpoint", String(64), nullable=False),
    Column("stream", Boolean, nullable=False),
    Column("status", Integer, nullable=False),
    Column("error_type", String(64), nullable=True),
    Column("prompt_tokens", Integer, nullable=True),
    Column("completion_tokens", Integer, nullable=True),
    Column("ttft_us", BigInteger, nullable=True),
    Column("latency_us", BigInteger, nullable=False),
    Column("gateway_us", BigInteger, nullable=True),
    Column("upstream", String(256), nullable=True),
    Column("client", String(128), nullable=True),
    Column("guard", Text, nullable=True),
    Column("prompt", Text, nullable=True),
    # JSON of administrative events (model promote/rollback: who, from, to); None for requests
    Column("detail", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

head_table = Table(
    "prai_audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

model_versions_table = Table(
    "prai_model_versions",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("served_name", String(160), nullable=False, unique=True),
    Column("digest", String(64), nullable=False),
    Column("base", String(256), nullable=True),
    Column("path", Text, nullable=True),
    Column("rank", Integer, nullable=True),
    Column("source_bundle", Text, nullable=False),
    Column("registered_at", Float, nullable=False),
    Column("registered_by", String(256), nullable=False),
    Column("verified_at", Float, nullable=True),
    Column("verified_by", String(256), nullable=True),
    Column("loaded_at", Float, nullable=True),
    UniqueConstraint("name", "digest", name="uq_prai_model_versions_digest"),
)

aliases_table = Table(
    "prai_aliases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("current", String(64), nullable=True),
    Column("previous", String(64), nullable=True),
    Column("canary", String(64), nullable=True),
    Column("canary_percent", Float, nullable=False, default=0.0),
    Column("updated_at", Float, nullable=False),
    Column("updated_by", String(256), nullable=True),
    Column("generation", BigInteger, nullable=False, default=0),
)

model_events_table = Table(
    "prai_model_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("name", String(64), nullable=False, index=True),
    Column("action", String(32), nullable=False),
    Column("from_version", String(64), nullable=True),
    Column("to_version", String(64), nullable=True),
    Column("canary_percent", Float, nullable=True),
    Column("actor", String(256), nullable=True),
    Column("detail", Text, nullable=True),
    Column("audit_rid", String(32), nullable=True),
)

GENESIS = "0" * 64
_INSERT_COLS = ("seq", *AUDIT_FIELDS, "prev_hash", "hash")


def normalize_url(url: str) -> str:
    """``postgresql://`` → ``postgresql+psycopg://`` (psycopg 3); others unchanged."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def open_engine(url: str) -> Engine:
    """Create the SQLAlchemy engine and the tables (idempotent).

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
        engine = create_engine(url, pool_pre_ping=True, future=True)
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
        metadata.create_all(engine)
        _add_missing_columns(engine)
        with engine.begin() as conn:
            for name in ("keys_version", "models_version"):
                if conn.execute(select(meta_table.c.value).where(meta_table.c.name == name)).first() is None:
                    try:
                        with conn.begin_nested():
                            conn.execute(insert(meta_table).values(name=name, value=0))
                    except IntegrityError:
                        pass
            if conn.execute(select(head_table.c.seq).where(head_table.c.id == 1)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(head_table).values(id=1, seq=0, hash=GENESIS))
                except IntegrityError:
                    pass
    except SQLAlchemyError as exc:
        raise StorageError(
            f"cannot open the gateway database ({engine.dialect.name}): {type(exc).__name__}",
        ) from None
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Add columns newer PrAI versions introduced to tables an older version created.

    ``create_all`` creates missing tables only; ``prai_audit.detail`` arrived with the
    model registry. Adding a nullable column keeps every stored hash valid (see
    :func:`record_hash`: a None ``detail`` is not part of the canonical JSON).
    """
    have = {c["name"] for c in inspect(engine).get_columns("prai_audit")}
    if "detail" not in have:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE prai_audit ADD COLUMN detail TEXT")


def bump_version(conn: Any, name: str) -> None:
    """Increment the ``prai_meta`` counter ``name`` inside the caller's transaction."""
    conn.execute(update(meta_table).where(meta_table.c.name == name).values(value=meta_table.c.value + 1))


def meta_version(engine: Engine, name: str) -> int:
    """The value of the ``prai_meta`` counter ``name`` (0 when absent)."""
    with engine.connect() as conn:
        v = conn.execute(select(meta_table.c.value).where(meta_table.c.name == name)).scalar()
    return int(v or 0)


# --- keys ------------------------------------------------------------------------------


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
        conn.execute(insert(keys_table).values(**rec.__dict__))
        _bump_keys_version(conn)


def revoke_key(engine: Engine, key_id: str, *, now: float | None = None) -> bool:
    """Mark a key revoked; False when no such id. Bumps ``keys_version``."""
    with engine.begin() as conn:
        res = conn.execute(
            update(keys_table).where(keys_table.c.id == key_id).values(revoked_at=time.time() if now is None else now)
        )
        if res.rowcount == 0:
            return False
        _bump_keys_version(conn)
    return True


def keys_version(engine: Engine) -> int:
    """The key store's change counter."""
    return meta_version(engine, "keys_version")


def list_keys(engine: Engine, *, tenant: str | None = None) -> list[KeyRecord]:
    """Every key row (optionally one tenant's), oldest first."""
    q = select(keys_table).order_by(keys_table.c.created_at)
    if tenant:
        q = q.where(keys_table.c.tenant == tenant)
    with engine.connect() as conn:
        return [KeyRecord(**dict(r._mapping)) for r in conn.execute(q)]


# --- audit -----------------------------------------------------------------------------


def record_hash(prev_hash: str, seq: int, record: dict[str, Any]) -> str:
    """SHA-256 hex of ``prev_hash``, ``seq`` and the record's canonical JSON.

    Canonical JSON: the fields of :data:`AUDIT_FIELDS` only, sorted keys, no spaces, UTF-8;
    ``detail`` only when set, so records written before it existed keep their hashes.
    """
    body = {k: record.get(k) for k in AUDIT_FIELDS}
    body["stream"] = bool(body["stream"])
    if body["detail"] is None:
        del body["detail"]
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}:{seq}:{data}".encode()).hexdigest()


def append_audit(engine: Engine, records: Sequence[dict[str, Any]], *, dedupe: bool = True) -> int:
    """Append records in one transaction, extending the hash chain; returns rows written.

    With ``dedupe`` records whose ``rid`` is already stored are skipped (journal replay is
    idempotent); without it a repeated ``rid`` raises ``IntegrityError`` (unique column).
    The head row is locked first (an UPDATE), which serialises writers on SQLite and
    PostgreSQL alike, so the chain stays linear with several gateway processes.
    """
    if not records:
        return 0
    with engine.begin() as conn:
        return append_audit_in(conn, records, dedupe=dedupe)


def append_audit_in(conn: Any, records: Sequence[dict[str, Any]], *, dedupe: bool = True) -> int:
    """:func:`append_audit` inside the caller's transaction (so a registry change and its
    audit record commit together)."""
    written = 0
    conn.execute(update(head_table).where(head_table.c.id == 1).values(seq=head_table.c.seq))
    head = conn.execute(select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)).one()
    seq, prev = int(head.seq), str(head.hash)
    rids = [r["rid"] for r in records]
    existing = (
        {row[0] for row in conn.execute(select(audit_table.c.rid).where(audit_table.c.rid.in_(rids)))}
        if dedupe
        else set()
    )
    rows = []
    for r in records:
        if r["rid"] in existing:
            continue
        existing.add(r["rid"])
        seq += 1
        h = record_hash(prev, seq, r)
        rows.append({**{k: r.get(k) for k in AUDIT_FIELDS}, "seq": seq, "prev_hash": prev, "hash": h})
        prev = h
    if rows:
        # Plain DBAPI executemany: SQLAlchemy's per-row parameter processing cost ~25 µs
        # per record here, on the audit thread that shares the GIL with the event loop.
        ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        conn.exec_driver_sql(
            f"INSERT INTO prai_audit ({', '.join(_INSERT_COLS)}) VALUES ({', '.join([ph] * len(_INSERT_COLS))})",
            [tuple(row[c] for c in _INSERT_COLS) for row in rows],
        )
        conn.execute(update(head_table).where(head_table.c.id == 1).values(seq=seq, hash=prev))
        written = len(rows)
    return written


@dataclass
class VerifyResult:
    """Outcome of :func:`verify_audit`: ``ok``, records checked, first problem found."""

    ok: bool
    records: int
    problem: str | None = None
    seq: int | None = None
    #: hash of the last record (``GENESIS`` for an empty log); record it elsewhere with
    #: ``records`` to detect later deletion of the newest records (see ``expect_head``)
    head_hash: str | None = None


def verify_audit(engine: Engine, expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Walk the chain from the first record; detect edits, reordering and deletion.

    Edited fields change the recomputed hash; reordered or deleted rows break the
    sequence or ``prev_hash`` links; deleting the newest rows leaves the head row pointing
    past the last record. The chain has no secret: someone with write access who deletes
    the newest records (or all) and rewrites the head row is only caught with
    ``expect_head``, a ``(seq, hash)`` recorded earlier outside the database: the log must
    reach ``seq`` and the record there must have that hash.
    """
    seen_hash: str | None = None
    prev, expected, n = GENESIS, 1, 0
    with engine.connect() as conn:
        for row in conn.execute(select(audit_table).order_by(audit_table.c.seq)).yield_per(1000):
            m = dict(row._mapping)
            seq = int(m["seq"])
            if seq != expected:
                return VerifyResult(False, n, f"record {expected} is missing (next is {seq})", expected)
            if m["prev_hash"] != prev:
                return VerifyResult(False, n, f"record {seq} does not link to record {seq - 1}", seq)
            if record_hash(prev, seq, m) != m["hash"]:
                return VerifyResult(False, n, f"record {seq} was modified (hash mismatch)", seq)
            prev, expected, n = m["hash"], expected + 1, n + 1
            if expect_head is not None and seq == expect_head[0]:
                seen_hash = prev
        head = conn.execute(select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)).first()
    if head is not None and (int(head.seq) != n or head.hash != prev):
        return VerifyResult(
            False,
            n,
            f"the log ends at record {n} but the head says {int(head.seq)} (records deleted)",
            n + 1,
        )
    if expect_head is not None and expect_head[0] > 0:
        want_seq, want_hash = expect_head
        if seen_hash is None:
            return VerifyResult(
                False, n, f"the log ends at record {n} but record {want_seq} was expected "
                "(records deleted)", n + 1
            )
        if seen_hash != want_hash:
            return VerifyResult(
                False, n, f"record {want_seq} has hash {seen_hash[:16]}…, not the expected "
                f"{want_hash[:16]}… (log rewritten)", want_seq
            )
    return VerifyResult(True, n, head_hash=prev)


def iter_audit(
    engine: Engine,
    *,
    tenant: str | None = None,
    project: str | None = None,
    since_us: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Audit records in sequence order, filtered; each a dict of the table's columns."""
    q = select(audit_table).order_by(audit_table.c.seq)
    if tenant:
        q = q.where(audit_table.c.tenant == tenant)
    if project:
        q = q.where(audit_table.c.project == project)
    if since_us is not None:
        q = q.where(audit_table.c.ts_us >= since_us)
    with engine.connect() as conn:
        for row in conn.execute(q).yield_per(1000):
            yield dict(row._mapping)


__all__ = [
    "AUDIT_FIELDS",
    "GENESIS",
    "KeyRecord",
    "VerifyResult",
    "append_audit",
    "append_audit_in",
    "bump_version",
    "insert_key",
    "iter_audit",
    "keys_version",
    "list_keys",
    "meta_version",
    "normalize_url",
    "open_engine",
    "record_hash",
    "revoke_key",
    "verify_audit",
]
