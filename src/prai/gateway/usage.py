"""Usage per tenant, project, model, key, day or month, read from the audit log.

The library behind ``prai usage`` and the admin console: :func:`usage_report` returns
plain rows; :func:`format_usage` renders them as a table, JSON or CSV. Only proxied
requests count (events such as ``budget.soft_threshold`` and model promotions do not).
Days and months are calendar periods in the budget zone (``gateway.budget_timezone``,
default Asia/Tokyo), the same periods budgets count in.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine

from prai.config.gateway import ModelPrice
from prai.db.schema import audit_table
from prai.errors import UsageError
from prai.gateway.budgets import MICRO, REQUEST_ENDPOINTS, cost_micro_yen, price_for

GroupBy = Literal["tenant", "project", "model", "key", "day", "month"]
GROUP_BY: tuple[str, ...] = ("tenant", "project", "model", "key", "day", "month")
#: the audit log is summed in SQL per 15-minute bucket, then buckets are put into local
#: days/months in Python (zones with half- and quarter-hour offsets stay exact)
_BUCKET_US = 900_000_000


@dataclass
class UsageRow:
    """Usage of one group.

    Attributes:
        group: the tenant, ``tenant/project``, model (the adapter for LoRA requests), key
            id, day (``2026-01-31``) or month (``2026-01``), local to the budget zone.
        tenant / project: set when the group belongs to one (``key``, ``project``,
            ``tenant``), else None.
        requests: proxied requests; errors: those answered with HTTP status >= 400.
        prompt_tokens / completion_tokens / total_tokens: tokens as the upstreams
            reported them (streams that ended early: what was relayed).
        upstream_seconds: seconds the requests spent on upstreams (GPU time basis).
        cost_yen: cost from ``gateway.prices``; None when no prices are configured.
    """

    group: str
    tenant: str | None
    project: str | None
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    upstream_seconds: float
    cost_yen: float | None


def request_conditions(
    *,
    tenant: str | None = None,
    project: str | None = None,
    since_us: int | None = None,
    until_us: int | None = None,
) -> list[Any]:
    """The audit records usage counts, as SQLAlchemy conditions on ``audit_table`` (AND).

    Proxied requests only (``endpoint`` in :data:`~prai.gateway.budgets.REQUEST_ENDPOINTS`),
    of ``tenant`` / ``project`` when given, with ``since_us <= ts_us < until_us`` (epoch
    microseconds). :func:`usage_report` and the console's TTFT charts select with it, so
    their figures always count the same requests.
    """
    a = audit_table.c
    cond: list[Any] = [a.endpoint.in_(REQUEST_ENDPOINTS)]
    if tenant:
        cond.append(a.tenant == tenant)
    if project:
        cond.append(a.project == project)
    if since_us is not None:
        cond.append(a.ts_us >= since_us)
    if until_us is not None:
        cond.append(a.ts_us < until_us)
    return cond


def usage_report(
    engine: Engine,
    *,
    tenant: str | None = None,
    project: str | None = None,
    by: str = "model",
    since_us: int | None = None,
    until_us: int | None = None,
    timezone: str = "Asia/Tokyo",
    prices: Mapping[str, ModelPrice] | None = None,
) -> list[UsageRow]:
    """Usage rows from the audit log, sorted by group (days and months in time order).

    Args:
        engine: the gateway database (:func:`prai.gateway.admin.open_store`).
        tenant / project: only this tenant / project (project names are per tenant: pass
            both to mean one project).
        by: ``tenant``, ``project``, ``model``, ``key``, ``day`` or ``month``.
        since_us / until_us: epoch microseconds, ``[since, until)``.
        timezone: IANA zone of days and months.
        prices: model → price (``gateway.prices``) for ``cost_yen``.

    Raises:
        UsageError: unknown ``by``.
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
    """
    if by not in GROUP_BY:
        raise UsageError(f"--by {by!r}: use one of {', '.join(GROUP_BY)}")
    zone = ZoneInfo(timezone)
    a = audit_table.c
    bucket = (a.ts_us // _BUCKET_US).label("bucket")
    cond = request_conditions(tenant=tenant, project=project, since_us=since_us, until_us=until_us)
    q = (
        select(
            a.tenant,
            a.project,
            a.key_id,
            a.model,
            a.adapter,
            bucket,
            func.count(),
            func.sum(case((a.status >= 400, 1), else_=0)),
            func.coalesce(func.sum(a.prompt_tokens), 0),
            func.coalesce(func.sum(a.completion_tokens), 0),
            func.coalesce(func.sum(a.latency_us - func.coalesce(a.gateway_us, 0)), 0),
        )
        .where(and_(*cond))
        .group_by(a.tenant, a.project, a.key_id, a.model, a.adapter, bucket)
    )
    rows: dict[tuple[str, str | None, str | None], list[float]] = {}
    labels: dict[int, tuple[str, str]] = {}
    with engine.connect() as conn:
        for t, p, key_id, model, adapter, b, n, errs, pt, ct, up_us in conn.execute(q):
            b = int(b)
            if by in ("day", "month"):
                if b not in labels:
                    local = datetime.fromtimestamp(b * _BUCKET_US / 1e6, zone)
                    labels[b] = (local.strftime("%Y-%m-%d"), local.strftime("%Y-%m"))
                g = labels[b][0 if by == "day" else 1]
                gk: tuple[str, str | None, str | None] = (g, None, None)
            elif by == "model":
                gk = (adapter or model or "", None, None)
            elif by == "key":
                gk = (key_id or "", t, p)
            elif by == "project":
                gk = (f"{t}/{p}", t, p)
            else:
                gk = (t or "", t, None)
            acc = rows.setdefault(gk, [0, 0, 0, 0, 0.0, 0])
            up_s = int(up_us) / 1e6
            acc[0] += int(n)
            acc[1] += int(errs or 0)
            acc[2] += int(pt)
            acc[3] += int(ct)
            acc[4] += max(up_s, 0.0)
            if prices:
                acc[5] += cost_micro_yen(price_for(prices, adapter, model), int(pt), int(ct), up_s)
    out = [
        UsageRow(
            group=g,
            tenant=t,
            project=p,
            requests=int(v[0]),
            errors=int(v[1]),
            prompt_tokens=int(v[2]),
            completion_tokens=int(v[3]),
            total_tokens=int(v[2] + v[3]),
            upstream_seconds=round(v[4], 3),
            cost_yen=round(v[5] / MICRO, 2) if prices else None,
        )
        for (g, t, p), v in rows.items()
    ]
    out.sort(key=lambda r: (r.group, r.tenant or "", r.project or ""))
    return out


_COLUMNS = (
    "group",
    "tenant",
    "project",
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "upstream_seconds",
    "cost_yen",
)


def format_usage(rows: list[UsageRow], fmt: str, by: str) -> str:
    """``json`` (a list of objects), ``csv`` (header first; RFC 4180 line ends) or
    ``table`` (plain text, one line per row, never wrapped).

    Raises:
        UsageError: unknown format.
    """
    if fmt == "json":
        return json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2) + "\n"
    # The owner columns a group has besides itself: a key's tenant and project, a
    # project's tenant (its group is ``tenant/project``); never the grouped column twice.
    owners = {"key": ("tenant", "project"), "project": ("tenant",)}.get(by, ())
    cols = [c for c in _COLUMNS if c not in ("tenant", "project") or c in owners]
    if rows and rows[0].cost_yen is None:
        cols.remove("cost_yen")
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow([by if c == "group" else c for c in cols])
        for r in rows:
            d = asdict(r)
            w.writerow([_csv_text(d[c]) for c in cols])
        return buf.getvalue()
    if fmt != "table":
        raise UsageError(f"--format {fmt!r}: use table, json or csv")
    header = [by if c == "group" else c for c in cols]
    body = [[_cell(asdict(r)[c]) for c in cols] for r in rows]
    if rows:
        totals = [
            "total",
            *(
                _cell(sum(getattr(r, c) or 0 for r in rows)) if c not in ("tenant", "project") else ""
                for c in cols[1:]
            ),
        ]
        body.append(totals)
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for row in body:
        lines.append(
            "  ".join(
                (c.rjust(w) if i >= (3 if "tenant" in cols else 1) else c.ljust(w))
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ).rstrip()
        )
    if not rows:
        lines.append("(no requests in this range)")
    return "\n".join(lines) + "\n"


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _csv_text(v: Any) -> Any:
    # spreadsheets read =, +, -, @ at the start of a cell as a formula (OWASP CSV injection)
    if isinstance(v, str) and v.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + v
    return v


__all__ = ["GROUP_BY", "UsageRow", "format_usage", "request_conditions", "usage_report"]
