"""Budget periods (calendar days and months in a time zone), prices, and usage from the
audit log.

A budget counts prompt + completion tokens (and, with ``gateway.prices``, cost in yen) per
calendar day and per calendar month in ``gateway.budget_timezone`` (default Asia/Tokyo:
a day starts at 00:00 JST = 15:00 UTC the day before). The counters live in the limit
store (:mod:`prai.gateway.ratelimit`); when a period's counter is missing there (a fresh
``memory://`` process, a Redis restarted empty, the first request of a period) it is
seeded from the audit log with :func:`seed_usage`, so budgets survive restarts. The seed
carries its *cut*, the audit log's last sequence number when it was read: records up to it
are in the seed, later ones are not (:func:`audit_seqs` tells a settlement which side of a
cut its request is on; see :mod:`prai.gateway._limitsettle`).

Cost: ``prompt × prompt_yen_per_million / 1e6 + completion × completion_yen_per_million /
1e6 + upstream_s × gpus × yen_per_gpu_second``, kept as integer micro-yen (1e-6 yen) in
counters so sums are exact.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.engine import Engine

from prai.config.gateway import ModelPrice
from prai.db.schema import audit_table, head_table

#: audit ``endpoint`` values of proxied requests (events such as budget thresholds are not usage)
REQUEST_ENDPOINTS = ("chat.completions", "completions", "embeddings")
MICRO = 1_000_000


@dataclass(frozen=True)
class Period:
    """One calendar day or month in the budget zone.

    Attributes:
        kind: ``day`` or ``month``.
        label: ``2026-01-31`` or ``2026-01`` (local calendar).
        start_s / end_s: epoch seconds of its first instant and of the next period's
            (when the budget resets).
        end_iso: ``end_s`` in the zone, ISO 8601 with offset (``2026-02-01T00:00:00+09:00``).
    """

    kind: str
    label: str
    start_s: float
    end_s: float
    end_iso: str


class BudgetClock:
    """The current day and month in a zone; ``now`` is injectable (tests, month boundaries).

    Args:
        timezone: IANA zone name.
        now: returns epoch seconds (default ``time.time``).
    """

    def __init__(self, timezone: str = "Asia/Tokyo", now: Callable[[], float] = time.time) -> None:
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self.now = now
        self._day: Period | None = None
        self._month: Period | None = None

    def periods(self, t: float | None = None) -> tuple[Period, Period]:
        """(day, month) containing epoch second ``t`` (default: now); cached until they end."""
        t = self.now() if t is None else t
        day, month = self._day, self._month
        if day is not None and month is not None and day.start_s <= t < day.end_s:
            return day, month
        local = datetime.fromtimestamp(t, self.zone)
        d0 = local.replace(hour=0, minute=0, second=0, microsecond=0)
        d1 = (d0 + timedelta(days=1, hours=3)).replace(hour=0)  # DST-safe next midnight
        m0 = d0.replace(day=1)
        m1 = (m0 + timedelta(days=32)).replace(day=1)
        day = Period("day", d0.strftime("%Y-%m-%d"), d0.timestamp(), d1.timestamp(), d1.isoformat())
        month = Period("month", m0.strftime("%Y-%m"), m0.timestamp(), m1.timestamp(), m1.isoformat())
        self._day, self._month = day, month
        return day, month


def price_for(prices: Mapping[str, ModelPrice], *names: str | None) -> ModelPrice | None:
    """The price of the first name found (adapter, model, alias), else ``"*"``, else None."""
    for n in names:
        if n and n in prices:
            return prices[n]
    return prices.get("*")


def upstream_us_sum() -> ColumnElement[Any]:
    """SQL: the microseconds audit records spent on upstreams (end-to-end latency less the
    gateway's own time), summed; 0 for requests that never reached an upstream (refused
    with 401/403/429/503 before routing: ``upstream`` is NULL), so GPU-second prices
    charge only time on the GPUs."""
    a = audit_table.c
    spent = a.latency_us - func.coalesce(a.gateway_us, 0)
    return func.coalesce(func.sum(case((a.upstream.is_not(None), spent), else_=0)), 0)


def cost_micro_yen(price: ModelPrice | None, prompt: int, completion: int, upstream_s: float) -> int:
    """Cost of one request in micro-yen (see the module docstring); 0 without a price."""
    if price is None:
        return 0
    yen = (
        prompt * price.prompt_yen_per_million / 1e6
        + completion * price.completion_yen_per_million / 1e6
        + max(upstream_s, 0.0) * price.gpus * price.yen_per_gpu_second
    )
    return round(yen * MICRO)


def usage_since(
    engine: Engine,
    *,
    tenant: str,
    project: str | None,
    key_id: str | None,
    start_s: float,
    end_s: float,
    prices: Mapping[str, ModelPrice],
    max_seq: int | None = None,
) -> tuple[int, int]:
    """(tokens, micro-yen) the audit log records for a scope in ``[start_s, end_s)``.

    The scope is a tenant, a tenant's project, or one key (``key_id``). Only proxied
    requests count (``endpoint`` in :data:`REQUEST_ENDPOINTS`); with ``max_seq`` only
    records up to that sequence number.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
    """
    a = audit_table.c
    cond: list[Any] = [
        a.tenant == tenant,
        a.ts_us >= int(start_s * 1e6),
        a.ts_us < int(end_s * 1e6),
        a.endpoint.in_(REQUEST_ENDPOINTS),
    ]
    if project is not None:
        cond.append(a.project == project)
    if key_id is not None:
        cond.append(a.key_id == key_id)
    if max_seq is not None:
        cond.append(a.seq <= max_seq)
    q = (
        select(
            a.model,
            a.adapter,
            func.coalesce(func.sum(a.prompt_tokens), 0),
            func.coalesce(func.sum(a.completion_tokens), 0),
            upstream_us_sum(),
        )
        .where(and_(*cond))
        .group_by(a.model, a.adapter)
    )
    tokens = micro_yen = 0
    with engine.connect() as conn:
        for model, adapter, prompt, completion, upstream_us in conn.execute(q):
            prompt, completion = int(prompt), int(completion)
            tokens += prompt + completion
            if prices:
                price = price_for(prices, adapter, model)
                micro_yen += cost_micro_yen(price, prompt, completion, int(upstream_us) / 1e6)
    return tokens, micro_yen


def _head_seq(engine: Engine) -> int:
    with engine.connect() as conn:
        seq = conn.execute(select(head_table.c.seq).where(head_table.c.id == 1)).scalar()
    return int(seq or 0)


def seed_usage(engine: Engine, **scope: Any) -> tuple[int, int, int]:
    """(tokens, micro-yen, cut): :func:`usage_since` of the records up to ``cut``, the audit
    log's last sequence number, read first (every record up to it is committed then:
    sequence numbers are given under the head row's lock).

    Args:
        scope: :func:`usage_since`'s keyword arguments but ``max_seq`` (tenant, project,
            key_id, start_s, end_s, prices).
    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
    """
    cut = _head_seq(engine)
    tokens, micro_yen = usage_since(engine, **scope, max_seq=cut)
    return tokens, micro_yen, cut


def audit_seqs(engine: Engine, rids: Sequence[str], *, chunk: int = 500) -> tuple[int, dict[str, int]]:
    """(head, {rid: sequence number}) of the audit records of ``rids`` that are stored.

    ``head`` is the last sequence number, read first: a record not found gets a number
    above ``head`` when it is written.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
    """
    head = _head_seq(engine)
    found: dict[str, int] = {}
    a = audit_table.c
    with engine.connect() as conn:
        for i in range(0, len(rids), chunk):
            part = list(rids[i : i + chunk])
            for rid, seq in conn.execute(select(a.rid, a.seq).where(a.rid.in_(part))):
                found[str(rid)] = int(seq)
    return head, found


__all__ = [
    "MICRO",
    "REQUEST_ENDPOINTS",
    "BudgetClock",
    "Period",
    "audit_seqs",
    "cost_micro_yen",
    "price_for",
    "seed_usage",
    "upstream_us_sum",
    "usage_since",
]
