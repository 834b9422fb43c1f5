"""Audit records of admin actions (``endpoint`` = ``admin.<action>``), in the hash chain.

Written synchronously with :func:`prai.db.audit_log.append_audit_in`, in the transaction
of the change they describe: a change without its record cannot commit. ``detail`` holds
JSON ``{"actor", "role", ...}``, as the model lifecycle writes its own (``model.promote``).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from sqlalchemy.engine import Engine

from prai.db.audit_log import append_audit_in


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
    return {
        "rid": "ad" + secrets.token_hex(15),
        "ts_us": time.time_ns() // 1000,
        "tenant": tenant,
        "project": project,
        "key_id": key_id,
        "model": model,
        "adapter": None,
        "endpoint": f"admin.{action}",
        "stream": False,
        "status": status,
        "error_type": error_type,
        "prompt_tokens": None,
        "completion_tokens": None,
        "ttft_us": None,
        "latency_us": 0,
        "gateway_us": None,
        "upstream": None,
        "client": client,
        "guard": None,
        "prompt": None,
        "detail": json.dumps(info, ensure_ascii=False, sort_keys=True),
    }


def audit_in(conn: Any, record: dict[str, Any]) -> None:
    """Append ``record`` inside the caller's transaction."""
    append_audit_in(conn, [record], dedupe=False)


def audit(engine: Engine, record: dict[str, Any]) -> None:
    """Append ``record`` in a transaction of its own."""
    with engine.begin() as conn:
        audit_in(conn, record)


__all__ = ["admin_record", "audit", "audit_in"]
