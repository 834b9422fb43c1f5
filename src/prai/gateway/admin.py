"""Operator functions behind `prai keys` and `prai audit` (the CLI only formats their output).

All of them find the database from kitchen.yaml's ``gateway.storage.url`` (or the default
SQLite file under PRAI_CACHE_DIR when no config is given).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from prai.config.gateway import StorageConfig
from prai.db.audit_export import EXPORT_FORMATS, export_text, iso_time
from prai.db.audit_log import VerifyResult, iter_audit, verify_audit
from prai.db.engine import open_engine
from prai.db.keys import key_scopes, list_keys, revoke_key
from prai.errors import AuditTampered, ConfigError, KeyNotFound, UsageError
from prai.gateway import auth
from prai.gateway.audit import replay_orphans


def open_store(config: Path | None, cache_dir: Path) -> tuple[Engine, Any]:
    """(database engine, GatewayConfig or None) for a kitchen.yaml path or the default.

    Journals left by killed gateway processes are replayed into the database first, so
    `prai audit` sees every record.
    """
    gw = None
    if config is not None:
        from prai.gateway.server import load_gateway_config

        gw = load_gateway_config(config).gateway
    url = (gw.storage.url if gw else None) or f"sqlite:///{cache_dir / 'gateway.db'}"
    engine = open_engine(url)
    journal_dir = (gw.storage if gw else StorageConfig()).journal_path(cache_dir)
    if journal_dir.is_dir():
        # Records of gateways that were killed are still in their journals: copy them in now.
        replay_orphans(engine, journal_dir)
    return engine, gw


def create_key(
    engine: Engine,
    gw: Any,
    *,
    tenant: str,
    project: str,
    name: str = "",
    expires: str | None = None,
) -> auth.CreatedKey:
    """Create a key; with a config, the tenant/project must exist in it.

    Raises:
        ConfigError: tenant/project not in kitchen.yaml.
        UsageError: bad ``expires``.
    """
    if gw is not None and gw.project(tenant, project) is None:
        known = ", ".join(f"{t.name}/{p.name}" for t in gw.tenants for p in t.projects) or "none"
        raise ConfigError(
            f"project {tenant}/{project} is not in gateway.tenants (configured: {known})",
            hint="add it to kitchen.yaml first, or pick one of the configured projects",
        )
    expires_s = auth.parse_duration_s(expires) if expires else None
    return auth.create_key(engine, tenant=tenant, project=project, name=name, expires_in_s=expires_s)


def check_scope(engine: Engine, gw: Any, *, tenant: str | None, project: str | None) -> None:
    """Refuse a ``--tenant`` / ``--project`` filter that names no tenant or project of the
    kitchen: a typo would otherwise select nothing and look like "no records".

    Known are the tenants and projects of kitchen.yaml's ``gateway.tenants`` and every
    (tenant, project) that holds a key in the store, revoked ones included (a tenant removed
    from kitchen.yaml keeps its records, which can still be exported). Without a config
    (``gw`` None) nothing is checked.

    Raises:
        UsageError: exit 2; the message lists the known tenants (or projects).
    """
    if gw is None or (tenant is None and project is None):
        return
    scopes = {(t.name, p.name) for t in gw.tenants for p in t.projects} | key_scopes(engine)
    hint = "use one of the names listed (gateway.tenants in kitchen.yaml; tenants that hold keys count too)"
    tenants = sorted({t for t, _ in scopes})
    if tenant is not None and tenant not in tenants:
        raise UsageError(
            f"--tenant {tenant}: no such tenant in the kitchen (known: {', '.join(tenants) or 'none'})",
            hint=hint,
        )
    if project is None:
        return
    if tenant is not None:
        mine = sorted(p for t, p in scopes if t == tenant)
        if project not in mine:
            raise UsageError(
                f"--project {project}: tenant {tenant} has no such project (its projects: {', '.join(mine)})",
                hint=hint,
            )
    elif project not in {p for _, p in scopes}:
        known = ", ".join(f"{t}/{p}" for t, p in sorted(scopes)) or "none"
        t_name, _, p_name = project.partition("/")
        if (t_name, p_name) in scopes:  # the tenant/project form of the listings
            hint = f"--project takes a project's name: --tenant {t_name} --project {p_name}"
        raise UsageError(f"--project {project}: no tenant has such a project (known: {known})", hint=hint)


def key_rows(engine: Engine, tenant: str | None = None, project: str | None = None) -> list[dict[str, Any]]:
    """Key metadata for listing (never hashes)."""
    now = time.time()
    return [
        {
            "id": k.id,
            "tenant": k.tenant,
            "project": k.project,
            "name": k.name,
            "state": k.state(now),
            "created": iso_time(k.created_at),
            "expires": iso_time(k.expires_at) if k.expires_at else None,
        }
        for k in list_keys(engine, tenant=tenant, project=project)
    ]


def revoke(engine: Engine, key_id: str) -> None:
    """Revoke a key (all gateways stop accepting it within ``key_cache_refresh_s``).

    Raises:
        KeyNotFound: no such key id.
    """
    if not revoke_key(engine, key_id):
        raise KeyNotFound(f"no key with id {key_id!r}")


def parse_expect_head(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` (as printed by ``prai audit verify --json``) → (seq, hash).

    Raises:
        UsageError: not that form.
    """
    seq, _, digest = text.strip().partition(":")
    if not seq.isdigit() or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise UsageError(
            f"--expect-head {text!r}: not SEQ:HASH",
            hint="pass `head_seq:head_hash` from an earlier `prai audit verify --json`",
        )
    return int(seq), digest


def verify(engine: Engine, expect_head: tuple[int, str] | None = None) -> VerifyResult:
    """Verify the audit hash chain (and that it still reaches ``expect_head``).

    Raises:
        AuditTampered: a record was edited, reordered or deleted (exit code 3).
    """
    res = verify_audit(engine, expect_head)
    if not res.ok:
        raise AuditTampered(f"audit log: {res.problem} ({res.records} records verified before it)")
    return res


def parse_since(text: str, now: float | None = None, *, flag: str = "--since") -> int:
    """``24h``/``7d``/``30m`` ago, or an ISO date/time (UTC if no zone) → epoch microseconds.

    Durations: a number and ``s``, ``m``, ``h``, ``d`` or ``w`` (seconds to weeks), counted
    back from now. ``flag`` names the option in the error (``--since``, ``--until``).

    Raises:
        UsageError: neither form.
    """
    now = time.time() if now is None else now
    if re.fullmatch(r"\d+(\.\d+)?[smhdw]", text.strip()):
        return int((now - auth.parse_duration_s(text)) * 1e6)
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"{flag} {text!r}: not a time",
            hint="use an ISO date (2026-11-01) or a duration (24h, 7d)",
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1e6)


def export_lines(
    engine: Engine, *, fmt: str, tenant: str | None, project: str | None, since_us: int | None
) -> Iterator[str]:
    """Audit records as JSON Lines or CSV text (header first), one string per record
    (columns and formats: :mod:`prai.db.audit_export`).

    Raises:
        UsageError: ``fmt`` is not jsonl or csv.
    """
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: use jsonl or csv")
    return export_text(iter_audit(engine, tenant=tenant, project=project, since_us=since_us), fmt)


def write_atomic(path: Path, lines: Iterator[str]) -> int:
    """Write lines to ``path`` via a temp file + rename; returns lines written."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            for line in lines:
                f.write(line)
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


__all__ = [
    "check_scope",
    "create_key",
    "export_lines",
    "key_rows",
    "open_store",
    "parse_since",
    "revoke",
    "verify",
    "write_atomic",
]
