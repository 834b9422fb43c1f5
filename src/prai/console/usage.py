"""Usage for the console: the figures of `prai usage`, plus TTFT and latency per tenant and
project, and time series for the charts.

Requests, errors, tokens, upstream seconds and cost come from
:func:`prai.gateway.usage.usage_report`, the function behind `prai usage`, called with the
same arguments the command would pass (``gateway.budget_timezone`` and ``gateway.prices``
of the gateway's kitchen.yaml), so the console and the command always agree: ``rows`` is
exactly what `prai usage --by BY --format json` prints for the same filters. The timing
figures and the series select the same audit records (:func:`prai.gateway.usage.request_conditions`).

- ``ttft_p50_ms`` / ``ttft_p95_ms``: nearest-rank percentiles of time to first token of
  streamed answers (ms); ``latency_p50_ms`` / ``latency_p95_ms``: of end-to-end latency.
- series: the window cut into ``buckets`` equal intervals: requests, tokens (prompt +
  completion) and mean TTFT (ms) per interval, per tenant and project.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select

from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.db.schema import audit_table
from prai.errors import UsageError
from prai.gateway import usage as gw_usage

MAX_BUCKETS = 500
#: ``by`` values, as `prai usage --by`
GROUP_BY = gw_usage.GROUP_BY


def percentile(sorted_values: list[int], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0-100) of ascending values; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat(timespec="seconds")


def _ms(us: float | None) -> float | None:
    return None if us is None else round(us / 1000, 3)


def usage_rows(
    ctx: ConsoleContext, who: Principal, *, since_us: int | None, until_us: int | None,
    tenant: str | None = None, project: str | None = None, by: str = "model", timezone: str | None = None,
) -> list[dict[str, Any]]:
    """`prai usage --format json` for these filters, as the user may see it.

    Args:
        since_us / until_us: epoch microseconds, ``[since, until)``; None: unbounded.
        tenant / project: filters (a tenant-admin is limited to the own tenant).
        by: ``tenant``, ``project``, ``model``, ``key``, ``day`` or ``month``.
        timezone: IANA zone of days and months (default ``gateway.budget_timezone``).

    Returns:
        One dict per :class:`prai.gateway.usage.UsageRow`, in its order.

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant (HTTP 403).
        UsageError: unknown ``by`` or zone (HTTP 400).
    """
    scope = who.tenant_filter(tenant)
    zone = _zone(ctx, timezone)
    rows = gw_usage.usage_report(ctx.engine, tenant=scope, project=project, by=by, since_us=since_us,
                                 until_us=until_us, timezone=zone, prices=ctx.gateway.prices)
    return [asdict(r) for r in rows]


def _zone(ctx: ConsoleContext, timezone: str | None) -> str:
    zone = timezone or ctx.gateway.budget_timezone
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"timezone {zone!r}: not an IANA time zone", hint="e.g. Asia/Tokyo or UTC") from None
    return zone


def usage_report(
    ctx: ConsoleContext, who: Principal, *, since_us: int, until_us: int | None = None,
    tenant: str | None = None, project: str | None = None, by: str = "model", buckets: int = 24,
    timezone: str | None = None,
) -> dict[str, Any]:
    """Usage figures and time series (see the module docstring for the definitions).

    Args:
        since_us / until_us: the window, epoch microseconds (until: now when None).
        by: the grouping of ``rows`` (as `prai usage --by`).
        buckets: intervals of the series.
        timezone: zone of ``by=day|month`` (default ``gateway.budget_timezone``).

    Returns:
        ``{"since", "until", "bucket_s", "timezone", "by", "rows": [...], "totals": [...],
        "series": [...]}``; ``rows`` as `prai usage --format json`, ``totals`` one per
        tenant/project (its ``by=project`` row plus TTFT and latency percentiles).

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant.
        UsageError: an empty window, a bad bucket count, an unknown ``by`` or zone.
    """
    scope = who.tenant_filter(tenant)
    until_us = until_us if until_us is not None else time.time_ns() // 1000
    if until_us <= since_us:
        raise UsageError("the window is empty: `until` must be after `since`")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise UsageError(f"buckets must be between 1 and {MAX_BUCKETS}")
    if by not in GROUP_BY:
        raise UsageError(f"by {by!r}: use one of {', '.join(GROUP_BY)}")
    zone = _zone(ctx, timezone)
    rows = usage_rows(ctx, who, since_us=since_us, until_us=until_us, tenant=scope, project=project, by=by,
                      timezone=zone)
    per_project = rows if by == "project" else usage_rows(
        ctx, who, since_us=since_us, until_us=until_us, tenant=scope, project=project, by="project", timezone=zone)
    a = audit_table
    where = gw_usage.request_conditions(tenant=scope, project=project, since_us=since_us, until_us=until_us)
    bucket_us = max(1, math.ceil((until_us - since_us) / buckets))
    tokens = func.coalesce(a.c.prompt_tokens, 0) + func.coalesce(a.c.completion_tokens, 0)
    with ctx.engine.connect() as conn:
        bucket = (a.c.ts_us - since_us) // bucket_us
        series_rows = conn.execute(
            select(a.c.tenant, a.c.project, bucket, func.count(), func.sum(tokens), func.avg(a.c.ttft_us))
            .where(*where).group_by(a.c.tenant, a.c.project, bucket)
        ).all()
        times: dict[tuple[str, str], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for t, p, ttft, lat in conn.execute(
            select(a.c.tenant, a.c.project, a.c.ttft_us, a.c.latency_us).where(*where)
        ):
            ttfts, lats = times[(t, p)]
            if ttft is not None:
                ttfts.append(int(ttft))
            if lat is not None:
                lats.append(int(lat))
    totals = []
    for row in per_project:
        ttfts, lats = times[(row["tenant"], row["project"])]
        ttfts.sort()
        lats.sort()
        totals.append({
            **{k: v for k, v in row.items() if k != "group"},
            "ttft_p50_ms": _ms(percentile(ttfts, 50)), "ttft_p95_ms": _ms(percentile(ttfts, 95)),
            "latency_p50_ms": _ms(percentile(lats, 50)), "latency_p95_ms": _ms(percentile(lats, 95)),
        })
    series_map: dict[tuple[str, str], dict[int, tuple[int, int, float | None]]] = defaultdict(dict)
    for t, p, b, n, tok, ttft in series_rows:
        series_map[(t, p)][int(b)] = (int(n), int(tok or 0), float(ttft) if ttft is not None else None)
    series = []
    for (t, p), pts in sorted(series_map.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")):
        points = []
        for i in range(buckets):
            n, tok, ttft = pts.get(i, (0, 0, None))
            points.append({"t": _iso(since_us + i * bucket_us), "requests": n, "tokens": tok,
                           "ttft_avg_ms": _ms(ttft)})
        series.append({"tenant": t, "project": p, "points": points})
    return {
        "since": _iso(since_us), "until": _iso(until_us), "bucket_s": bucket_us / 1e6, "timezone": zone, "by": by,
        "rows": rows, "totals": totals, "series": series,
    }


__all__ = ["GROUP_BY", "MAX_BUCKETS", "percentile", "usage_report", "usage_rows"]
