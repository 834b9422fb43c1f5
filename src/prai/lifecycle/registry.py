"""The model and adapter registry: versions, aliases and their history.

Stored in the gateway's database (:mod:`prai.db`: SQLite or PostgreSQL), so
every gateway process, `prai model` and `prai render` read the same state.

- A **version** is one model or adapter brought in by a bundle: ``name`` + ``version``
  (operator-chosen, e.g. ``v2``), keyed by the bundle's root digest (SHA-256 of
  ``prai-bundle.json``, see docs/bundle-format.md). Its **served name** on the engine is
  ``NAME@VERSION`` (what ``--lora-modules`` / ``/v1/load_lora_adapter`` use).
- An **alias** is what clients put in ``model``: ``kansai``. The gateway routes it to the
  alias's ``current`` version, or to its ``canary`` version for ``canary_percent`` % of
  API keys (sticky per key, see :func:`prai.db.routes.canary_bucket`).
- The gateway reads the routing table through :mod:`prai.db.routes` (re-exported here).
- Every routing change is one transaction: the alias row, a ``prai_model_events`` row,
  the ``models_version`` counter (gateways reload within their refresh interval) and a
  record in the hash-chained audit log (who, when, from, to).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from prai.db.audit_log import append_audit_in, event_record
from prai.db.engine import bump_version
from prai.db.routes import Route, Target, canary_bucket, models_version, routing_table
from prai.db.schema import aliases_table, model_events_table, model_versions_table
from prai.errors import RegistryError, UsageError, VersionNotFound

Kind = Literal["model", "adapter"]
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$")
#: Separates alias and version in served names (``kansai@v2``); not allowed in either.
SEP = "@"


def served_name(name: str, version: str) -> str:
    """The engine-side name of a version: ``NAME@VERSION``."""
    return f"{name}{SEP}{version}"


@dataclass(frozen=True)
class ModelVersion:
    """One registered version.

    Attributes:
        name / version: alias name and version label.
        kind: ``model`` (a base model served by its own engine) or ``adapter`` (LoRA).
        served_name: ``NAME@VERSION``, the name on the engine.
        digest: root digest of the bundle it came from (64 hex).
        base: adapters: the served name of the base model they run on.
        path: adapters: the directory as the engine sees it (``lora_path``).
        rank: adapters: LoRA rank from the bundle manifest.
        source_bundle: where the bundle was read from when registered.
        registered_at / verified_at / loaded_at: epoch seconds (loaded = last load on an engine).
        registered_by / verified_by: actor names (see ``PRAI_ACTOR``).
    """

    name: str
    version: str
    kind: str
    served_name: str
    digest: str
    base: str | None
    path: str | None
    rank: int | None
    source_bundle: str
    registered_at: float
    registered_by: str
    verified_at: float | None
    verified_by: str | None
    loaded_at: float | None


@dataclass(frozen=True)
class AliasState:
    """An alias and where it routes.

    Attributes:
        current: the version serving all traffic (but the canary's share); None before
            the first promotion.
        previous: what ``rollback`` restores (the version current before the last promotion).
        canary / canary_percent: a version receiving that share of API keys (0–100).
        generation: grows with every change (used to refuse concurrent edits).
    """

    name: str
    kind: str
    current: str | None
    previous: str | None
    canary: str | None
    canary_percent: float
    updated_at: float
    updated_by: str | None
    generation: int


@dataclass(frozen=True)
class LifecycleEvent:
    """One row of an alias's history (``prai model history``)."""

    seq: int
    ts: float
    name: str
    action: str
    from_version: str | None
    to_version: str | None
    canary_percent: float | None
    actor: str | None
    detail: dict[str, Any]
    audit_rid: str | None


def _check(pattern: re.Pattern[str], value: str, what: str, allowed: str) -> str:
    if not pattern.match(value):
        raise UsageError(
            f"{what} {value!r} is not valid",
            hint=f"start with a letter or digit, then use {allowed}; 1-63 characters, no '@' "
            "(it separates name and version in served names)",
        )
    return value


def check_name(name: str, what: str = "name") -> str:
    """Validate an alias name (no ``@``; same rule as gateway names).

    Raises:
        UsageError: invalid.
    """
    return _check(NAME_RE, name, what, "letters, digits, '.', '_' or '-'")


def check_version(version: str) -> str:
    """Validate a version label (e.g. ``v2``, ``2026.11.30``, ``1.0+ft3``).

    Raises:
        UsageError: invalid.
    """
    return _check(VERSION_RE, version, "version", "letters, digits, '.', '_', '+' or '-', e.g. v2")


def _version_row(row: Any) -> ModelVersion:
    return ModelVersion(**dict(row._mapping))


def _alias_row(row: Any) -> AliasState:
    return AliasState(**dict(row._mapping))


def register_version(
    engine: Engine,
    *,
    name: str,
    version: str,
    kind: Kind,
    digest: str,
    source_bundle: str,
    actor: str,
    base: str | None = None,
    path: str | None = None,
    rank: int | None = None,
    verified_by: str | None = None,
    verified_at: float | None = None,
    now: float | None = None,
) -> ModelVersion:
    """Add a version (and its alias, on first registration); audited.

    Registering the same bundle digest again under the same name and version is a no-op
    that returns the stored row (a re-run of a pipeline is harmless); with another
    ``path`` or ``base`` it corrects them (refused while the version takes traffic).

    Raises:
        RegistryError: invalid name/version/digest, an adapter without base or path, the
            version already registered with another digest, the digest already registered
            as another version, or a kind different from the alias's.
    """
    return register_versions(engine, [{
        "name": name, "version": version, "kind": kind, "digest": digest, "source_bundle": source_bundle,
        "actor": actor, "base": base, "path": path, "rank": rank, "verified_by": verified_by,
        "verified_at": verified_at, "now": now,
    }])[0]


def _prepare(kw: dict[str, Any]) -> tuple[dict[str, Any], str, float]:
    """Validate one registration's arguments; (table row, actor, time)."""
    name, version, kind, digest = kw["name"], kw["version"], kw["kind"], kw["digest"]
    base, path = kw.get("base"), kw.get("path")
    check_name(name)
    check_version(version)
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise RegistryError(f"digest {digest!r} is not a SHA-256 hex digest")
    if kind not in ("model", "adapter"):
        raise RegistryError(f"kind {kind!r} must be model or adapter")
    if kind == "adapter" and (not base or not path):
        raise RegistryError(
            f"adapter {name} {version}: the base model and the engine-side path are required",
            hint="give --base (the base model's served name) and --path (the adapter directory "
            "as the engine sees it)",
        )
    now = kw.get("now") or time.time()
    row = {
        "name": name,
        "version": version,
        "kind": kind,
        "served_name": served_name(name, version),
        "digest": digest,
        "base": base,
        "path": path,
        "rank": kw.get("rank"),
        "source_bundle": kw["source_bundle"],
        "registered_at": now,
        "registered_by": kw["actor"],
        "verified_at": kw.get("verified_at"),
        "verified_by": kw.get("verified_by"),
        "loaded_at": None,
    }
    return row, kw["actor"], now


def register_versions(engine: Engine, rows: list[dict[str, Any]]) -> list[ModelVersion]:
    """Several :func:`register_version` calls (same keyword arguments, as dicts) in one
    transaction: all are registered or none.

    Raises:
        RegistryError: as :func:`register_version`, for the first bad row.
    """
    with engine.begin() as conn:
        out = []
        for kw in rows:
            row, actor, now = _prepare(kw)
            out.append(_register_in(conn, row, actor, now))
        return out


def _register_in(conn: Any, row: dict[str, Any], actor: str, now: float) -> ModelVersion:
    name, version, kind, digest = row["name"], row["version"], row["kind"], row["digest"]
    base = row["base"]
    source_bundle = row["source_bundle"]
    alias = conn.execute(select(aliases_table).where(aliases_table.c.name == name)).first()
    if alias is not None and alias.kind != kind:
        article = {"model": "a model", "adapter": "an adapter"}
        raise RegistryError(
            f"{name} is registered as {article.get(alias.kind, alias.kind)}, not {article.get(kind, kind)}",
            hint="register it under another name",
        )
    same = conn.execute(
        select(model_versions_table).where(
            model_versions_table.c.name == name, model_versions_table.c.version == version
        )
    ).first()
    if same is not None:
        if same.digest == digest:
            if (same.path, same.base) == (row["path"], base):
                return _version_row(same)
            return _update_location(conn, alias, same, row, actor, now)
        raise RegistryError(
            f"{name} {version} is already registered with bundle digest {same.digest[:12]}…, "
            f"not {digest[:12]}…",
            hint="versions are immutable: register the new bundle under a new version label",
        )
    twin = conn.execute(
        select(model_versions_table.c.version).where(
            model_versions_table.c.name == name, model_versions_table.c.digest == digest
        )
    ).first()
    if twin is not None:
        raise RegistryError(
            f"bundle {digest[:12]}… is already registered as {name} {twin.version}",
            hint=f"promote {name} {twin.version} instead of registering it twice",
        )
    try:
        conn.execute(insert(model_versions_table).values(**row))
    except IntegrityError:
        raise RegistryError(
            f"{served_name(name, version)} is already taken (a concurrent registration?)"
        ) from None
    if alias is None:
        conn.execute(
            insert(aliases_table).values(
                name=name, kind=kind, current=None, previous=None, canary=None,
                canary_percent=0.0, updated_at=now, updated_by=actor, generation=0,
            )
        )
    _event(conn, name, "register", None, version, None, actor, now,
           {"digest": digest, "kind": kind, "base": base, "source_bundle": source_bundle})
    return ModelVersion(**row)


def _update_location(conn: Any, alias: Any, same: Any, row: dict[str, Any], actor: str, now: float) -> ModelVersion:
    """Correct where a registered version is loaded from (``path``) or runs on (``base``):
    deployment facts, not content, so the digest stays; refused while it takes traffic."""
    name, version = row["name"], row["version"]
    if alias is not None and version in (alias.current, alias.canary):
        raise RegistryError(
            f"{name} {version} takes traffic now; its path and base cannot change under it",
            hint=f"promote another version (or roll back) first, then register {name} {version} again",
        )
    conn.execute(
        update(model_versions_table)
        .where(model_versions_table.c.name == name, model_versions_table.c.version == version)
        .values(path=row["path"], base=row["base"])
    )
    _event(conn, name, "update", version, version, None, actor, now,
           {"path": [same.path, row["path"]], "base": [same.base, row["base"]]})
    fresh = conn.execute(
        select(model_versions_table).where(
            model_versions_table.c.name == name, model_versions_table.c.version == version
        )
    ).one()
    return _version_row(fresh)


def _event(
    conn: Any,
    name: str,
    action: str,
    from_v: str | None,
    to_v: str | None,
    pct: float | None,
    actor: str,
    now: float,
    detail: dict[str, Any],
) -> str:
    """Insert the history row and its hash-chained audit record; returns the audit rid."""
    rid = "lc" + hashlib.sha256(f"{name}:{action}:{now}:{time.perf_counter_ns()}".encode()).hexdigest()[:30]
    # --actor is free text; the OS account that ran the command is recorded beside it.
    info = {"action": action, "name": name, "from": from_v, "to": to_v, "actor": actor,
            "os_user": _os_user(), **detail}
    if pct is not None:
        info["canary_percent"] = pct
    append_audit_in(
        conn,
        [
            event_record(
                rid, int(now * 1e6), f"model.{action}", info, model=name,
                adapter=served_name(name, to_v) if to_v else None, client=actor,
            )
        ],
        dedupe=False,
    )
    conn.execute(
        insert(model_events_table).values(
            ts=now, name=name, action=action, from_version=from_v, to_version=to_v,
            canary_percent=pct, actor=actor,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True), audit_rid=rid,
        )
    )
    return rid


def _os_user() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "?"
    return f"{user}@{socket.gethostname()}"


def get_version(engine: Engine, name: str, version: str) -> ModelVersion:
    """One version.

    Raises:
        VersionNotFound: no such name or version.
    """
    with engine.connect() as conn:
        row = conn.execute(
            select(model_versions_table).where(
                model_versions_table.c.name == name, model_versions_table.c.version == version
            )
        ).first()
    if row is None:
        known = [v.version for v in list_versions(engine, name)]
        raise VersionNotFound(
            f"{name} {version} is not registered"
            + (f" (registered: {', '.join(known)})" if known else f" ({name} has no versions)")
        )
    return _version_row(row)


def list_versions(engine: Engine, name: str | None = None) -> list[ModelVersion]:
    """Registered versions (of one alias), oldest first."""
    q = select(model_versions_table).order_by(
        model_versions_table.c.name, model_versions_table.c.registered_at
    )
    if name is not None:
        q = q.where(model_versions_table.c.name == name)
    with engine.connect() as conn:
        return [_version_row(r) for r in conn.execute(q)]


def get_alias(engine: Engine, name: str) -> AliasState:
    """One alias.

    Raises:
        VersionNotFound: no such alias.
    """
    with engine.connect() as conn:
        row = conn.execute(select(aliases_table).where(aliases_table.c.name == name)).first()
    if row is None:
        known = [a.name for a in list_aliases(engine)]
        raise VersionNotFound(
            f"no model or adapter named {name!r} is registered"
            + (f" (known: {', '.join(known)})" if known else ""),
            hint="`prai model list -c KITCHEN.yaml` shows the registered names",
        )
    return _alias_row(row)


def list_aliases(engine: Engine) -> list[AliasState]:
    """Every alias, by name."""
    with engine.connect() as conn:
        return [_alias_row(r) for r in conn.execute(select(aliases_table).order_by(aliases_table.c.name))]


def history(engine: Engine, name: str) -> list[LifecycleEvent]:
    """An alias's events, oldest first.

    Raises:
        VersionNotFound: no such alias.
    """
    get_alias(engine, name)
    with engine.connect() as conn:
        rows = conn.execute(
            select(model_events_table)
            .where(model_events_table.c.name == name)
            .order_by(model_events_table.c.seq)
        )
        out = []
        for r in rows:
            m = dict(r._mapping)
            m["detail"] = json.loads(m["detail"]) if m["detail"] else {}
            out.append(LifecycleEvent(**m))
    return out


def set_route(
    engine: Engine,
    name: str,
    *,
    action: str,
    current: str | None,
    previous: str | None,
    canary: str | None,
    canary_percent: float,
    actor: str,
    expect_generation: int,
    from_version: str | None,
    to_version: str | None,
    detail: dict[str, Any] | None = None,
    now: float | None = None,
) -> AliasState:
    """Change where an alias routes, in one transaction with its history and audit record.

    Args:
        action: ``promote``, ``canary``, ``rollback``, ... (history and audit ``endpoint``).
        expect_generation: the generation the caller read; a different stored one means
            someone else changed the alias meanwhile.

    Raises:
        RegistryError: concurrent change, a version that is not registered, a bad percentage.
        VersionNotFound: no such alias.
    """
    if not 0.0 <= canary_percent <= 100.0:
        raise RegistryError(f"canary percentage {canary_percent} must be between 0 and 100")
    if (canary is None) != (canary_percent == 0.0):
        raise RegistryError("a canary needs a percentage above 0, and a percentage needs a canary")
    now = time.time() if now is None else now
    with engine.begin() as conn:
        # Lock the alias row first: concurrent promotions serialise on SQLite and PostgreSQL.
        res = conn.execute(
            update(aliases_table)
            .where(aliases_table.c.name == name, aliases_table.c.generation == expect_generation)
            .values(generation=aliases_table.c.generation + 1)
        )
        if res.rowcount == 0:
            row = conn.execute(select(aliases_table.c.generation).where(aliases_table.c.name == name)).first()
            if row is None:
                raise VersionNotFound(f"no model or adapter named {name!r} is registered")
            raise RegistryError(
                f"{name} was changed by someone else meanwhile (generation {row.generation}, "
                f"expected {expect_generation})",
                hint=f"look at `prai model history {name}` and run the command again",
            )
        registered = {
            r.version
            for r in conn.execute(
                select(model_versions_table.c.version).where(model_versions_table.c.name == name)
            )
        }
        for v in (current, canary):
            if v is not None and v not in registered:
                raise RegistryError(f"{name} {v} is not registered")
        conn.execute(
            update(aliases_table)
            .where(aliases_table.c.name == name)
            .values(
                current=current, previous=previous, canary=canary, canary_percent=canary_percent,
                updated_at=now, updated_by=actor,
            )
        )
        _event(conn, name, action, from_version, to_version,
               canary_percent if canary is not None else None, actor, now, detail or {})
        bump_version(conn, "models_version")
        row = conn.execute(select(aliases_table).where(aliases_table.c.name == name)).one()
    return _alias_row(row)


def mark_loaded(engine: Engine, name: str, version: str, *, now: float | None = None) -> None:
    """Record that a version was (re)loaded on the engines just now."""
    with engine.begin() as conn:
        conn.execute(
            update(model_versions_table)
            .where(model_versions_table.c.name == name, model_versions_table.c.version == version)
            .values(loaded_at=time.time() if now is None else now)
        )


__all__ = [
    "AliasState",
    "LifecycleEvent",
    "ModelVersion",
    "Route",
    "Target",
    "canary_bucket",
    "check_name",
    "check_version",
    "get_alias",
    "get_version",
    "history",
    "list_aliases",
    "list_versions",
    "mark_loaded",
    "models_version",
    "register_version",
    "register_versions",
    "routing_table",
    "served_name",
    "set_route",
]
