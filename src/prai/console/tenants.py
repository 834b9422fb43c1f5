"""Tenants and projects as kitchen.yaml defines them (read-only: kitchen.yaml, reviewed and
versioned, stays the source of truth; the console shows it and says so)."""

from __future__ import annotations

import time
from typing import Any

from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.db.keys import list_keys

SOURCE_NOTE = (
    "Tenants, projects, limits and budgets come from kitchen.yaml, the reviewed source of truth: "
    "change them there (review, commit) and restart the gateway."
)


def tenant_rows(ctx: ConsoleContext, who: Principal) -> list[dict[str, Any]]:
    """The tenants the user may see: ``[{name, projects: [{name, config, keys_active}]}]``.

    ``config`` is the project's entry in kitchen.yaml as the gateway read it (models,
    limits, key_limits, guard policy, audit_prompts, and any budget fields), defaults
    filled in.
    """
    now = time.time()
    active: dict[tuple[str, str], int] = {}
    for k in list_keys(ctx.engine, tenant=who.tenant_filter(None)):
        if k.state(now) == "active":
            active[(k.tenant, k.project)] = active.get((k.tenant, k.project), 0) + 1
    out = []
    for t in ctx.gateway.tenants:
        if not who.can_read_tenant(t.name):
            continue
        projects = []
        for p in t.projects:
            cfg = p.model_dump(mode="json")
            cfg.pop("name", None)
            projects.append({"name": p.name, "config": cfg, "keys_active": active.get((t.name, p.name), 0)})
        out.append({"name": t.name, "projects": projects})
    return out


__all__ = ["SOURCE_NOTE", "tenant_rows"]
