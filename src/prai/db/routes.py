"""The routing table the gateway reads: alias → current/canary version, served name →
version, from the model registry's tables (:mod:`prai.db.schema`).

:mod:`prai.lifecycle.registry` writes these tables (register, promote, rollback) and bumps
the ``models_version`` counter; the gateway polls the counter and reloads this table
(:mod:`prai.gateway.aliases`). Both import it from here, so neither imports the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from prai.db.engine import meta_version
from prai.db.schema import aliases_table, model_versions_table


def canary_bucket(alias: str, key_id: str) -> float:
    """A key's fixed position in [0, 100) for ``alias``: below ``canary_percent`` = canary.

    SHA-256 of ``alias:key_id``, so one key always sees the same version of an alias
    (sticky per API key, in every gateway process), and keys are split independently per
    alias.
    """
    h = hashlib.sha256(f"{alias}:{key_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 * 100.0


def models_version(engine: Engine) -> int:
    """The routing table's change counter (gateways poll it)."""
    return meta_version(engine, "models_version")


@dataclass(frozen=True)
class Target:
    """Where a request for an alias goes: the version, its served name and base model."""

    name: str
    version: str
    served_name: str
    kind: str
    base: str | None


@dataclass(frozen=True)
class Route:
    """An alias's routing entry as the gateway holds it."""

    current: Target | None
    canary: Target | None
    canary_percent: float


def routing_table(engine: Engine) -> tuple[dict[str, Route], dict[str, Target]]:
    """A snapshot for the gateway: alias → :class:`Route`, served name → :class:`Target`.

    Aliases with no current version are left out (nothing to route to yet).
    """
    v = model_versions_table.c
    a = aliases_table.c
    with engine.connect() as conn:
        versions = {
            (r.name, r.version): Target(r.name, r.version, r.served_name, r.kind, r.base)
            for r in conn.execute(select(v.name, v.version, v.served_name, v.kind, v.base))
        }
        aliases = list(conn.execute(select(a.name, a.current, a.canary, a.canary_percent).order_by(a.name)))

    routes: dict[str, Route] = {}
    for row in aliases:
        current = versions.get((row.name, row.current)) if row.current else None
        if current is None:
            continue
        canary = versions.get((row.name, row.canary)) if row.canary else None
        routes[row.name] = Route(current, canary, float(row.canary_percent) if row.canary else 0.0)
    return routes, {t.served_name: t for t in versions.values()}


__all__ = ["Route", "Target", "canary_bucket", "models_version", "routing_table"]
