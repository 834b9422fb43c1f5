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
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.engine import Engine

from prai.config.gateway import ModelPrice
from prai.db.schema import audit_table
from prai.errors import UsageError
from prai.gateway.admin import parse_since
from prai.gateway.budgets import MICRO, REQUEST_ENDPOINTS, cost_micro_yen, price_for, upstream_us_sum

GroupBy = Literal["tenant", "project", "model", "key", "day", "month"]
GROUP_BY: tuple[str, ...] = ("tenant", "project", "model", "key", "day", "month")
FORMATS: tuple[str, ...] = ("table", "json", "csv")
#: the group of requests refused without a valid key (HTTP 401): they have no tenant,
#: project or key (their ``tenant`` and ``project`` stay None), in every grouping but
#: day and month (and ``model`` when the request named none)
NO_KEY = "(no key)"
#: the ``model`` group of requests with a key that named no model (e.g. a malformed body)
NO_MODEL = "(no model)"
#: the audit log is summed in SQL per 15-minute bucket, then buckets are put into local
#: days/months in Python (zones with half- and quarter-hour offsets stay exact)
_BUCKET_US = 900_000_000


@dataclass
class UsageRow:
    """Usage of one group.

    Attributes:
        group: the tenant, ``tenant/project``, model (the adapter for LoRA requests), key
            id, day (``2026-01-31``) or month (``2026-01``), local to the budget zone;
            :data:`NO_KEY` for requests refused without a valid key (HTTP 401).
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


def _choice(value: str, flag: str, names: tuple[str, ...], choices: str) -> str:
    """``value`` in any case → its name in ``names``; UsageError naming ``flag`` otherwise."""
    name = value.strip().lower()
    if name not in names:
        raise UsageError(f"{flag} {value!r}: use {choices}")
    return name


def check_group_by(by: str) -> str:
    """``by`` in any case (``Project``) → its name in :data:`GROUP_BY`.

    Raises:
        UsageError: not a grouping.
    """
    return _choice(by, "--by", GROUP_BY, "one of " + ", ".join(GROUP_BY))


def check_format(fmt: str) -> str:
    """``fmt`` in any case (``CSV``) → its name in :data:`FORMATS`.

    Raises:
        UsageError: not a format.
    """
    return _choice(fmt, "--format", FORMATS, f"{', '.join(FORMATS[:-1])} or {FORMATS[-1]}")


def parse_window(
    since: str | None, until: str | None, now: float | None = None
) -> tuple[int | None, int | None]:
    """``--since`` and ``--until`` as typed (None: unbounded) → epoch microseconds
    ``(since_us, until_us)`` of the window ``[since, until)``.

    Each is an ISO date or date/time (UTC unless it has an offset) or a duration back from
    now (``30m``, ``24h``, ``7d``, ``2w``): :func:`prai.gateway.admin.parse_since`.

    Raises:
        UsageError: either is not a time, or ``since`` is not before ``until``.
    """
    since_us = parse_since(since, now, flag="--since") if since else None
    until_us = parse_since(until, now, flag="--until") if until else None
    check_range(since_us, until_us, since_text=since, until_text=until)
    return since_us, until_us


def check_range(
    since_us: int | None,
    until_us: int | None,
    *,
    since_text: str | None = None,
    until_text: str | None = None,
) -> None:
    """Refuse an empty window: ``since_us`` not before ``until_us`` (both given).

    ``since_text`` / ``until_text``: the values as the user typed them, for the message
    (default: the times in ISO form, UTC).

    Raises:
        UsageError: the window ``[since, until)`` holds no time.
    """
    if since_us is not None and until_us is not None and since_us >= until_us:
        s = since_text or _iso_us(since_us)
        u = until_text or _iso_us(until_us)
        raise UsageError(
            f"--since {s} is not before --until {u}: the range holds no time",
            hint="--since is the start (inclusive) and --until the end (exclusive); swap them",
        )


def _iso_us(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")


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
        by: ``tenant``, ``project``, ``model``, ``key``, ``day`` or ``month`` (any case).
        since_us / until_us: epoch microseconds, ``[since, until)``.
        timezone: IANA zone of days and months.
        prices: model → price (``gateway.prices``) for ``cost_yen``.

    Requests refused without a valid key (HTTP 401) are grouped as :data:`NO_KEY`.

    Raises:
        UsageError: unknown ``by``; ``since_us`` not before ``until_us``.
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
    """
    by = check_group_by(by)
    check_range(since_us, until_us)
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
            upstream_us_sum(),
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
                gk = (adapter or model or (NO_MODEL if key_id else NO_KEY), None, None)
            elif not key_id and not t:  # refused before a key was known (401)
                gk = (NO_KEY, None, None)
            elif by == "key":
                gk = (key_id or NO_KEY, t, p)
            elif by == "project":
                gk = (f"{t}/{p}", t, p)
            else:
                gk = (t or NO_KEY, t, None)
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
    # the no-key group last: it is not one of the configured tenants, projects or keys
    out.sort(key=lambda r: (r.group == NO_KEY, r.group, r.tenant or "", r.project or ""))
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
    ``table`` (plain text, one line per row, never wrapped; numbers right-aligned).
    ``fmt`` and ``by`` may be in any case.

    Raises:
        UsageError: unknown format or grouping.
    """
    fmt = check_format(fmt)
    by = check_group_by(by)
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
    header = [by if c == "group" else c for c in cols]
    body = [[_cell(asdict(r)[c]) for c in cols] for r in rows]
    if rows:
        totals = [
            "total",
            *(
                _cell(_total(rows, c)) if c not in ("tenant", "project") else ""
                for c in cols[1:]
            ),
        ]
        body.append(totals)
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = [
        "  ".join(
            (h.rjust(w) if col in _NUMERIC else h.ljust(w))
            for col, h, w in zip(cols, header, widths, strict=True)
        ).rstrip()
    ]
    for row in body:
        lines.append(
            "  ".join(
                (c.rjust(w) if col in _NUMERIC else c.ljust(w))
                for col, c, w in zip(cols, row, widths, strict=True)
            ).rstrip()
        )
    if not rows:
        lines.append("(no requests in this range)")
    return "\n".join(lines) + "\n"


_NUMERIC = frozenset(_COLUMNS) - {"group", "tenant", "project"}


def _total(rows: list[UsageRow], column: str) -> float | int:
    """The sum of a numeric column, a float for a float column even when every value is
    0.0 (so the total prints ``0.00`` like the rows)."""
    values = [getattr(r, column) for r in rows]
    start = 0.0 if any(isinstance(v, float) for v in values) else 0
    return sum((v for v in values if v is not None), start)


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


__all__ = [
    "FORMATS",
    "GROUP_BY",
    "NO_KEY",
    "NO_MODEL",
    "UsageRow",
    "check_format",
    "check_group_by",
    "check_range",
    "format_usage",
    "parse_window",
    "request_conditions",
    "usage_report",
]
