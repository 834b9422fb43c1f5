"""Usage per tenant and project, read from the audit log (the records of API requests).

NOTE for integration: `prai usage` (``gateway/usage.py``) is being written in parallel; until
it lands, this module computes the console's figures from the same source, the audit table
(``chat.completions``, ``completions`` and ``embeddings`` records; admin and model events
are not usage). Definitions:

- ``requests``: records in the window; ``errors``: those with HTTP status >= 400.
- ``prompt_tokens`` / ``completion_tokens``: sums of what the gateway charged (the
  upstream's usage, or the relayed count for streams cut short).
- ``ttft_p50_ms`` / ``ttft_p95_ms``: nearest-rank percentiles of time to first token of
  streamed answers (ms); ``latency_p50_ms`` / ``latency_p95_ms``: of end-to-end latency.
- series: the window cut into ``buckets`` equal intervals: requests, tokens (prompt +
  completion) and mean TTFT (ms) per interval, per tenant and project.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, select

from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.db.schema import audit_table
from prai.errors import UsageError

REQUEST_ENDPOINTS = ("chat.completions", "completions", "embeddings")
MAX_BUCKETS = 500


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


def usage_report(
    ctx: ConsoleContext, who: Principal, *, since_us: int, until_us: int | None = None,
    tenant: str | None = None, project: str | None = None, buckets: int = 24,
) -> dict[str, Any]:
    """Usage figures and time series (see the module docstring for the definitions).

    Args:
        since_us / until_us: the window, epoch microseconds (until: now when None).

    Returns:
        ``{"since", "until", "bucket_s", "totals": [...], "models": [...], "series": [...]}``.

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant.
        UsageError: an empty window or a bad bucket count.
    """
    scope = who.tenant_filter(tenant)
    until_us = until_us if until_us is not None else time.time_ns() // 1000
    if until_us <= since_us:
        raise UsageError("the window is empty: `until` must be after `since`")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise UsageError(f"buckets must be between 1 and {MAX_BUCKETS}")
    a = audit_table
    where = [a.c.endpoint.in_(REQUEST_ENDPOINTS), a.c.ts_us >= since_us, a.c.ts_us < until_us]
    if scope is not None:
        where.append(a.c.tenant == scope)
    if project is not None:
        where.append(a.c.project == project)
    bucket_us = max(1, math.ceil((until_us - since_us) / buckets))
    tokens = func.coalesce(a.c.prompt_tokens, 0) + func.coalesce(a.c.completion_tokens, 0)
    errors = func.sum(case((a.c.status >= 400, 1), else_=0))
    with ctx.engine.connect() as conn:
        totals_q = (
            select(a.c.tenant, a.c.project, func.count(), errors, func.sum(func.coalesce(a.c.prompt_tokens, 0)),
                   func.sum(func.coalesce(a.c.completion_tokens, 0)))
            .where(*where).group_by(a.c.tenant, a.c.project).order_by(a.c.tenant, a.c.project)
        )
        totals_rows = conn.execute(totals_q).all()
        model_col = func.coalesce(a.c.adapter, a.c.model)
        models_rows = conn.execute(
            select(a.c.tenant, a.c.project, model_col, func.count(), func.sum(tokens))
            .where(*where).group_by(a.c.tenant, a.c.project, model_col)
            .order_by(a.c.tenant, a.c.project, model_col)
        ).all()
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
    for t, p, n, n_err, pt, ct in totals_rows:
        ttfts, lats = times[(t, p)]
        ttfts.sort()
        lats.sort()
        totals.append({
            "tenant": t, "project": p, "requests": int(n), "errors": int(n_err or 0),
            "prompt_tokens": int(pt or 0), "completion_tokens": int(ct or 0),
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
        "since": _iso(since_us), "until": _iso(until_us), "bucket_s": bucket_us / 1e6,
        "totals": totals,
        "models": [{"tenant": t, "project": p, "model": m, "requests": int(n), "tokens": int(tok or 0)}
                   for t, p, m, n, tok in models_rows],
        "series": series,
    }


__all__ = ["REQUEST_ENDPOINTS", "percentile", "usage_report"]
