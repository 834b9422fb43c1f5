"""API keys from the console: list, create (the secret returned once), revoke, set expiry.

The same key store as `prai keys` (:mod:`prai.db.keys`, keys hashed with SHA-256); every
change commits with its ``admin.key.*`` audit record, and running gateways pick it up
within ``key_cache_refresh_s``. Tenant-admins see and change their tenant's keys only;
a key of another tenant answers 404, as if it did not exist.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from prai.console._audit import admin_record, audit_in
from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.db.keys import KeyRecord, get_key_in, insert_key_in, list_keys, revoke_key_in, set_key_expiry_in
from prai.errors import KeyNotFound, UsageError
from prai.gateway import auth

STATES = ("active", "revoked", "expired")


def key_row(k: KeyRecord, now: float | None = None) -> dict[str, Any]:
    """A key as the API shows it (never its hash); times in epoch seconds."""
    return {
        "id": k.id, "tenant": k.tenant, "project": k.project, "name": k.name, "state": k.state(now),
        "created_at": k.created_at, "expires_at": k.expires_at, "revoked_at": k.revoked_at,
    }


def list_key_rows(
    ctx: ConsoleContext, who: Principal, *, tenant: str | None = None, project: str | None = None,
    state: str | None = None,
) -> list[dict[str, Any]]:
    """Keys the user may see, newest first, optionally filtered.

    Raises:
        AdminForbidden: a tenant-admin asked for another tenant.
        UsageError: unknown ``state``.
    """
    if state is not None and state not in STATES:
        raise UsageError(f"state {state!r}: use one of {', '.join(STATES)}")
    scope = who.tenant_filter(tenant)
    now = time.time()
    rows = [key_row(k, now) for k in list_keys(ctx.engine, tenant=scope)]
    rows = [r for r in rows if (project is None or r["project"] == project) and (state is None or r["state"] == state)]
    return rows[::-1]


def _expiry(expires_in: str | None, expires_at: datetime | None, now: float) -> float | None:
    if expires_in and expires_at:
        raise UsageError("give expires_in or expires_at, not both")
    if expires_in:
        return now + auth.parse_duration_s(expires_in)
    if expires_at is not None:
        ts = (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)).timestamp()
        if ts <= now:
            raise UsageError("expires_at is in the past", hint="give a future time, or revoke the key instead")
        return ts
    return None


def create_key(
    ctx: ConsoleContext, who: Principal, *, tenant: str, project: str, name: str = "",
    expires_in: str | None = None, expires_at: datetime | None = None, client: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """Create a key; returns (the key, shown once; its row).

    Raises:
        AdminForbidden: the user may not change ``tenant``'s keys.
        UsageError: tenant/project not in kitchen.yaml, a bad expiry.
    """
    who.require_write_tenant(tenant)
    if ctx.gateway.project(tenant, project) is None:
        raise UsageError(
            f"project {tenant}/{project} is not in gateway.tenants",
            hint="projects come from kitchen.yaml (the reviewed source of truth): add it there and restart",
        )
    if len(name) > 128:
        raise UsageError("the key's name is longer than 128 characters")
    now = time.time()
    exp = _expiry(expires_in, expires_at, now)
    created = auth.new_key(tenant=tenant, project=project, name=name,
                           expires_in_s=(exp - now) if exp is not None else None)
    with ctx.engine.begin() as conn:
        insert_key_in(conn, created.record)
        audit_in(conn, admin_record("key.create", actor=who.username, role=who.role, client=client, tenant=tenant,
                                    project=project, key_id=created.record.id,
                                    detail={"name": name, "expires_at": created.record.expires_at}))
    return created.key, key_row(created.record, now)


def _visible_key(conn: Any, who: Principal, key_id: str) -> KeyRecord:
    rec = get_key_in(conn, key_id)
    if rec is None or not who.can_read_tenant(rec.tenant):
        raise KeyNotFound(f"no key with id {key_id!r}", hint="GET /admin/keys lists the keys you may see")
    return rec


def revoke_key(ctx: ConsoleContext, who: Principal, key_id: str, *, client: str | None = None) -> dict[str, Any]:
    """Revoke a key (a no-op, still audited, when it is revoked already); returns its row.

    Raises:
        KeyNotFound: no such key, or one of a tenant the user may not see (HTTP 404).
        AdminForbidden: an auditor, or a tenant-admin of another tenant.
    """
    with ctx.engine.begin() as conn:
        rec = _visible_key(conn, who, key_id)
        who.require_write_tenant(rec.tenant)
        already = rec.revoked_at is not None
        if not already:
            revoke_key_in(conn, key_id)
        audit_in(conn, admin_record("key.revoke", actor=who.username, role=who.role, client=client,
                                    tenant=rec.tenant, project=rec.project, key_id=key_id,
                                    detail={"already_revoked": already}))
        fresh = get_key_in(conn, key_id)
    assert fresh is not None
    return key_row(fresh)


def set_expiry(
    ctx: ConsoleContext, who: Principal, key_id: str, *, expires_in: str | None = None,
    expires_at: datetime | None = None, client: str | None = None,
) -> dict[str, Any]:
    """Set a key's expiry (``expires_in`` from now, or ``expires_at``); neither: never expires.

    Raises:
        KeyNotFound, AdminForbidden: as :func:`revoke_key`.
        UsageError: a bad duration or a time in the past.
    """
    exp = _expiry(expires_in, expires_at, time.time())
    with ctx.engine.begin() as conn:
        rec = _visible_key(conn, who, key_id)
        who.require_write_tenant(rec.tenant)
        set_key_expiry_in(conn, key_id, exp)
        audit_in(conn, admin_record("key.expiry", actor=who.username, role=who.role, client=client,
                                    tenant=rec.tenant, project=rec.project, key_id=key_id,
                                    detail={"expires_at": exp, "was": rec.expires_at}))
        fresh = get_key_in(conn, key_id)
    assert fresh is not None
    return key_row(fresh)


__all__ = ["STATES", "create_key", "key_row", "list_key_rows", "revoke_key", "set_expiry"]
