"""The audit log from the console: query, export (CSV / JSON Lines) and hash-chain status.

Records have the columns of `prai audit export` (:data:`prai.db.audit_export.EXPORT_FIELDS`:
times in ms, ISO time) plus ``detail`` (parsed) for admin and model events. Tenant-admins
see only their tenant's records (requests and admin actions on it); platform events
(models, logins of other roles) are not theirs. An export is itself audited
(``admin.audit.export``, with its filters) before the first line leaves.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from prai.console._audit import admin_record, audit
from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.db.audit_export import EXPORT_FORMATS, export_row, export_text
from prai.db.audit_log import verify_audit
from prai.db.schema import audit_table
from prai.errors import UsageError

MAX_LIMIT = 500


@dataclass(frozen=True)
class AuditFilter:
    """What to select; every field optional. Times are epoch microseconds, ``until``
    exclusive; ``model`` matches the base model or the adapter; ``endpoint`` is a prefix
    (``admin.`` selects every admin action)."""

    tenant: str | None = None
    project: str | None = None
    key_id: str | None = None
    model: str | None = None
    status: int | None = None
    endpoint: str | None = None
    since_us: int | None = None
    until_us: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _select(f: AuditFilter, tenant_scope: str | None) -> Any:
    a = audit_table
    q = select(a)
    if tenant_scope is not None:
        q = q.where(a.c.tenant == tenant_scope)
    if f.project is not None:
        q = q.where(a.c.project == f.project)
    if f.key_id is not None:
        q = q.where(a.c.key_id == f.key_id)
    if f.model is not None:
        q = q.where(or_(a.c.model == f.model, a.c.adapter == f.model))
    if f.status is not None:
        q = q.where(a.c.status == f.status)
    if f.endpoint:
        escaped = f.endpoint.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        q = q.where(a.c.endpoint.like(escaped + "%", escape="\\"))
    if f.since_us is not None:
        q = q.where(a.c.ts_us >= f.since_us)
    if f.until_us is not None:
        q = q.where(a.c.ts_us < f.until_us)
    return q


def record_row(rec: dict[str, Any]) -> dict[str, Any]:
    """One record for the API: the export columns, ``detail`` parsed."""
    row = export_row(rec)
    if isinstance(row.get("detail"), str):
        with contextlib.suppress(ValueError):
            row["detail"] = json.loads(row["detail"])
    return row


def query(
    ctx: ConsoleContext, who: Principal, f: AuditFilter, *, before_seq: int | None = None, limit: int = 100
) -> dict[str, Any]:
    """The newest matching records (descending ``seq``), one page.

    Returns:
        ``{"records": [...], "next_before_seq": int | None}`` (pass it back for the next page).

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant.
        UsageError: ``limit`` outside 1-500.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {MAX_LIMIT}")
    scope = who.tenant_filter(f.tenant)
    q = _select(f, scope)
    if before_seq is not None:
        q = q.where(audit_table.c.seq < before_seq)
    q = q.order_by(audit_table.c.seq.desc()).limit(limit + 1)
    with ctx.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"records": [record_row(r) for r in rows], "next_before_seq": rows[-1]["seq"] if more else None}


def export(
    ctx: ConsoleContext, who: Principal, f: AuditFilter, *, fmt: str, client: str | None = None
) -> Iterator[str]:
    """Matching records in sequence order as CSV (RFC 4180, formula cells neutralised) or
    JSON Lines, one string per line; the export is audited first.

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant.
        UsageError: ``fmt`` is not csv or jsonl.
    """
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"format {fmt!r}: use csv or jsonl")
    scope = who.tenant_filter(f.tenant)
    audit(ctx.engine, admin_record("audit.export", actor=who.username, role=who.role, client=client,
                                   tenant=scope, detail={"format": fmt, "filter": f.as_dict()}))
    q = _select(f, scope).order_by(audit_table.c.seq)
    return _lines(ctx, q, fmt)


def _lines(ctx: ConsoleContext, q: Any, fmt: str) -> Iterator[str]:
    with ctx.engine.connect() as conn:
        yield from export_text((dict(r._mapping) for r in conn.execute(q).yield_per(1000)), fmt)


def chain_status(ctx: ConsoleContext, who: Principal) -> dict[str, Any]:
    """Verify the whole hash chain (as `prai audit verify`).

    Returns:
        ``{"ok", "records", "head_seq", "head_hash", "problem", "problem_seq"}``; record
        ``head_seq:head_hash`` outside the database to detect a rewrite later.

    Raises:
        AdminForbidden: a tenant-admin (the chain spans every tenant).
    """
    who.require_all_tenants("the audit hash-chain status")
    res = verify_audit(ctx.engine)
    return {"ok": res.ok, "records": res.records, "head_seq": res.records if res.ok else None,
            "head_hash": res.head_hash, "problem": res.problem, "problem_seq": res.seq}


__all__ = ["MAX_LIMIT", "AuditFilter", "chain_status", "export", "query", "record_row"]
