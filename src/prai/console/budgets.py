"""Budgets of tenants, projects and keys with what the current day and month have spent
and what remains (read-only: kitchen.yaml, reviewed and versioned, stays the source of
truth for the quotas; the console shows them and says so).

The quotas are the ``budget`` (tenant, project) and ``key_budget`` (each key of a project)
entries of kitchen.yaml as the gateway read them. ``spent`` is what the audit log records
for the scope in the current calendar day / month of ``gateway.budget_timezone``, computed
by :func:`prai.gateway.budgets.usage_since`, the function the gateway rebuilds its budget
counters from, with the same periods (:class:`prai.gateway.budgets.BudgetClock`) and prices.
Requests still in flight are not in it yet (the gateway also holds their worst case).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from prai.config.gateway import BudgetConfig
from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.db.keys import list_keys
from prai.gateway.budgets import MICRO, BudgetClock, Period, usage_since

SOURCE_NOTE = (
    "Budgets come from kitchen.yaml (gateway.tenants[].budget, projects[].budget and key_budget), the reviewed "
    "source of truth: change them there (review, commit) and restart the gateway. Spent: the audit log of the "
    "current day and month."
)

#: (period index in (day, month), unit, BudgetConfig field)
_QUOTAS = ((0, "tokens", "tokens_per_day"), (1, "tokens", "tokens_per_month"),
           (0, "yen", "yen_per_day"), (1, "yen", "yen_per_month"))


def _period_out(p: Period, zone: Any) -> dict[str, str]:
    return {"label": p.label, "starts_at": datetime.fromtimestamp(p.start_s, zone).isoformat(),
            "resets_at": p.end_iso}


def _quotas(ctx: ConsoleContext, b: BudgetConfig, periods: tuple[Period, Period], *, tenant: str,
            project: str | None, key_id: str | None) -> list[dict[str, Any]]:
    spent: dict[int, tuple[int, int]] = {}
    out = []
    for i, unit, field in _QUOTAS:
        limit = getattr(b, field)
        if limit is None:
            continue
        if i not in spent:
            spent[i] = usage_since(ctx.engine, tenant=tenant, project=project, key_id=key_id,
                                   start_s=periods[i].start_s, end_s=periods[i].end_s, prices=ctx.gateway.prices)
        tokens, micro_yen = spent[i]
        used: float = tokens if unit == "tokens" else round(micro_yen / MICRO, 2)
        # the gateway's own tests: exhausted at the quota, soft from used × 100 >= quota × soft_percent
        state = "exhausted" if used >= limit else "soft" if used * 100 >= limit * b.soft_percent else "ok"
        out.append({"period": periods[i].kind, "unit": unit, "limit": limit, "spent": used,
                    "remaining": max(round(limit - used, 2), 0), "used_percent": round(used / limit * 100, 1),
                    "state": state})
    return out


def budget_report(
    ctx: ConsoleContext, who: Principal, *, tenant: str | None = None, project: str | None = None,
    now_s: float | None = None,
) -> dict[str, Any]:
    """Every budget the user may see, with spent and remaining in the current periods.

    Args:
        tenant / project: only this tenant / project (a tenant-admin: the own tenant).
        now_s: epoch seconds whose day and month count (default: now).

    Returns:
        ``{"source_of_truth", "timezone", "day", "month", "budgets": [{scope, name, tenant,
        project, key_id, key_name, soft_percent, quotas: [{period, unit, limit, spent,
        remaining, used_percent, state}]}]}``; tenants first, then each project and its
        active keys, in kitchen.yaml's order (keys oldest first). Tokens are prompt +
        completion tokens; yen from ``gateway.prices``.

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant (HTTP 403).
        sqlalchemy.exc.SQLAlchemyError: the database is unreachable.
    """
    scope = who.tenant_filter(tenant)
    clock = BudgetClock(ctx.gateway.budget_timezone)
    periods = clock.periods(now_s)
    now = time.time() if now_s is None else now_s
    budgets: list[dict[str, Any]] = []

    def add(kind: str, name: str, b: BudgetConfig, t: str, p: str | None, key_id: str | None = None,
            key_name: str | None = None) -> None:
        budgets.append({"scope": kind, "name": name, "tenant": t, "project": p, "key_id": key_id,
                        "key_name": key_name, "soft_percent": b.soft_percent,
                        "quotas": _quotas(ctx, b, periods, tenant=t, project=p, key_id=key_id)})

    for t in ctx.gateway.tenants:
        if (scope is not None and t.name != scope) or not who.can_read_tenant(t.name):
            continue
        if t.budget.is_set() and project is None:
            add("tenant", f"tenant {t.name}", t.budget, t.name, None)
        keys = None
        for p in t.projects:
            if project is not None and p.name != project:
                continue
            if p.budget.is_set():
                add("project", f"project {t.name}/{p.name}", p.budget, t.name, p.name)
            if p.key_budget.is_set():
                if keys is None:
                    keys = list_keys(ctx.engine, tenant=t.name)
                for k in keys:
                    if k.project == p.name and k.state(now) == "active":
                        add("key", f"key {k.id}", p.key_budget, t.name, p.name, k.id, k.name)
    return {"source_of_truth": SOURCE_NOTE, "timezone": clock.timezone, "day": _period_out(periods[0], clock.zone),
            "month": _period_out(periods[1], clock.zone), "budgets": budgets}


__all__ = ["SOURCE_NOTE", "budget_report"]
