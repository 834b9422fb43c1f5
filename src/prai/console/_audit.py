"""Audit records of admin actions (``endpoint`` = ``admin.<action>``), in the hash chain.

Written synchronously with :func:`prai.db.audit_log.append_audit_in`, in the transaction
of the change they describe: a change without its record cannot commit. ``detail`` holds
JSON ``{"actor", "role", ...}``, as the model lifecycle writes its own (``model.promote``).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy.engine import Engine

from prai.db.audit_log import append_audit_in, event_record


def admin_record(
    action: str,
    *,
    actor: str,
    role: str | None,
    status: int = 200,
    client: str | None = None,
    tenant: str | None = None,
    project: str | None = None,
    key_id: str | None = None,
    model: str | None = None,
    error_type: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One audit record for ``admin.<action>`` (no prompt, no tokens, no secret)."""
    info = {"actor": actor, "role": role, **(detail or {})}
    return event_record(
        "ad" + secrets.token_hex(15), time.time_ns() // 1000, f"admin.{action}", info,
        tenant=tenant, project=project, key_id=key_id, model=model, status=status,
        error_type=error_type, client=client,
    )


def audit_in(conn: Any, record: dict[str, Any]) -> None:
    """Append ``record`` inside the caller's transaction."""
    append_audit_in(conn, [record], dedupe=False)


def audit(engine: Engine, record: dict[str, Any]) -> None:
    """Append ``record`` in a transaction of its own."""
    with engine.begin() as conn:
        audit_in(conn, record)


def mark_audited(exc: BaseException) -> None:
    """Note on ``exc`` that its refusal has been audited already (by the code that refused),
    so :func:`prai.console._deps.audit_refusal` does not write a second record."""
    exc._prai_audited = True  # type: ignore[attr-defined]


def is_audited(exc: BaseException | None) -> bool:
    """True after :func:`mark_audited`."""
    return bool(getattr(exc, "_prai_audited", False))


__all__ = ["admin_record", "audit", "audit_in", "is_audited", "mark_audited"]
