"""The hash-chained audit log: append (one transaction, chain extended), verify, iterate."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from prai.db.schema import AUDIT_FIELDS, GENESIS, audit_table, head_table

_INSERT_COLS = ("seq", *AUDIT_FIELDS, "prev_hash", "hash")


#: the canonical JSON of :func:`record_hash` (one encoder, built once)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_STREAM = AUDIT_FIELDS.index("stream")


def record_hash(prev_hash: str, seq: int, record: Mapping[str, Any]) -> str:
    """SHA-256 hex of ``prev_hash``, ``seq`` and the record's canonical JSON.

    Canonical JSON: the fields of :data:`AUDIT_FIELDS` only, sorted keys, no spaces, UTF-8;
    ``detail`` only when set, so records written before it existed keep their hashes.
    """
    return _values_hash(prev_hash, seq, list(map(record.get, AUDIT_FIELDS)))


def _values_hash(prev_hash: str, seq: int, values: list[Any]) -> str:
    """:func:`record_hash` of a record given as its :data:`AUDIT_FIELDS` values, in order
    (taken once per record with ``map(record.get, …)``: C speed, no per-field bytecode)."""
    body = dict(zip(AUDIT_FIELDS, values, strict=True))
    body["stream"] = bool(values[_STREAM])
    if body["detail"] is None:
        del body["detail"]
    return hashlib.sha256(f"{prev_hash}:{seq}:{_CANONICAL.encode(body)}".encode()).hexdigest()


def event_record(rid: str, ts_us: int, endpoint: str, detail: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An audit record for an event that is not a model request (an admin action, a
    registry change, a budget threshold): every :data:`AUDIT_FIELDS` key, no prompt, no
    tokens, ``status`` 200 and ``latency_us`` 0 unless ``fields`` set them; ``detail``
    stored as canonical JSON text.

    Raises:
        TypeError: a key in ``fields`` is not an audit field.
    """
    unknown = set(fields) - set(AUDIT_FIELDS)
    if unknown:
        raise TypeError(f"not audit fields: {sorted(unknown)}")
    rec: dict[str, Any] = dict.fromkeys(AUDIT_FIELDS)
    rec.update(stream=False, status=200, latency_us=0)
    rec.update(fields)
    rec.update(rid=rid, ts_us=ts_us, endpoint=endpoint,
               detail=json.dumps(detail, ensure_ascii=False, sort_keys=True))
    return rec


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
    rows: list[tuple[Any, ...]] = []  # in _INSERT_COLS order
    for r in records:
        if r["rid"] in existing:
            continue
        existing.add(r["rid"])
        seq += 1
        values = list(map(r.get, AUDIT_FIELDS))
        h = _values_hash(prev, seq, values)
        rows.append((seq, *values, prev, h))
        prev = h
    if rows:
        _insert_rows(conn, rows)
        conn.execute(update(head_table).where(head_table.c.id == 1).values(seq=seq, hash=prev))
        written = len(rows)
    return written


#: rows per INSERT statement: into PostgreSQL one statement of 40 rows stores a record in
#: 0.089 ms against 0.107 with one statement per row (bench/README.md, issue 16); its 40 x 24
#: parameters stay far under every driver's limit.
_ROWS_PER_INSERT = 40


def _insert_rows(conn: Any, rows: Sequence[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (tuples in ``_INSERT_COLS`` order) with multi-row VALUES statements
    of :data:`_ROWS_PER_INSERT` rows.

    Plain DBAPI (``exec_driver_sql``): SQLAlchemy's per-row parameter processing cost ~25 µs
    per record, on the audit thread that shares the GIL with the event loop.
    """
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = f"({', '.join([ph] * len(_INSERT_COLS))})"
    head = f"INSERT INTO prai_audit ({', '.join(_INSERT_COLS)}) VALUES "
    params = [v for row in rows for v in row]
    width = len(_INSERT_COLS) * _ROWS_PER_INSERT
    full = len(rows) // _ROWS_PER_INSERT
    if full:
        conn.exec_driver_sql(
            head + ", ".join([one] * _ROWS_PER_INSERT),
            [tuple(params[i * width:(i + 1) * width]) for i in range(full)],
        )
    rest = len(rows) - full * _ROWS_PER_INSERT
    if rest:
        conn.exec_driver_sql(head + ", ".join([one] * rest), tuple(params[full * width:]))


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
    "VerifyResult",
    "append_audit",
    "append_audit_in",
    "iter_audit",
    "record_hash",
    "verify_audit",
]
