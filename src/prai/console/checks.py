"""Checks from the console: run `prai doctor` areas on the gateway host, and list / open the
latest `prai bench` and `prai eval` reports.

Doctor runs with the gateway's kitchen.yaml (:func:`prai.doctor.build_plan` as `prai doctor
kitchen.yaml` does) and the gateway process's environment for secrets named there.

Reports are found under ``gateway.console.reports_dirs`` and the console's gate directory,
up to three directory levels deep: a bench output (``summary.json``, format
``prai-bench-summary``) or an eval output (``result.json``, format ``prai-eval-result``)
beside a ``report.html``. A report's id is the first 16 hex digits of the SHA-256 of its
resolved directory path; only found directories can be opened (no path from the client).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prai.console._audit import admin_record, audit
from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.errors import ConsoleError, ReportNotFound, UsageError

MAX_DEPTH = 3
MAX_REPORTS = 50
_KINDS = {"summary.json": ("bench", "prai-bench-summary"), "result.json": ("eval", "prai-eval-result")}


def areas() -> list[str]:
    """Doctor's areas in checklist order (seed §14)."""
    from prai.doctor import AREAS

    return list(AREAS)


def run_doctor_areas(ctx: ConsoleContext, who: Principal, asked: Sequence[str], *, client: str | None = None) -> dict[
    str, Any
]:
    """Run the asked areas (all when empty); returns doctor's JSON report (``ok``,
    ``exit_code``, ``summary``, ``checks``). Audited as ``admin.doctor.run``.

    Raises:
        AdminForbidden: not a platform-admin.
        UsageError: an unknown area.
        ConsoleError: the gateway was started without a kitchen.yaml path.
    """
    from prai.doctor import build_plan, parse_only, run_doctor

    who.require_platform_admin("running doctor")
    chosen = parse_only(",".join(asked)) if asked else areas()
    if ctx.config_path is None:
        raise ConsoleError("the gateway was started without a kitchen.yaml path; doctor needs one",
                           hint="start it with `prai gateway -c kitchen.yaml`, or run `prai doctor` on the host")
    plan = build_plan(ctx.config_path, env=ctx.environ)
    report = run_doctor(plan, chosen)
    out = report.to_json()
    out["areas"] = chosen
    audit(ctx.engine, admin_record("doctor.run", actor=who.username, role=who.role, client=client,
                                   detail={"areas": chosen, "summary": out["summary"]}))
    return out


@dataclass(frozen=True)
class Report:
    """A bench or eval output directory with its HTML report."""

    id: str
    kind: str
    dir: Path
    created_at: str | None
    mtime: float
    headline: dict[str, Any]

    def row(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "dir": str(self.dir), "created_at": self.created_at,
                "headline": self.headline}


def _headline(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    if kind == "eval":
        totals = data.get("totals") or {}
        return {"suite": data.get("suite"),
                "passed": sum(int(v.get("passed") or 0) for v in totals.values() if isinstance(v, dict)),
                "items": sum(int(v.get("items") or 0) for v in totals.values() if isinstance(v, dict))}
    rows = [r for run in data.get("runs") or [] if isinstance(run, dict) for r in run.get("rows") or []]
    first = rows[0] if rows and isinstance(rows[0], dict) else {}
    return {"runs": len(data.get("runs") or []), "ttft_p50_ms": first.get("ttft_p50_ms"),
            "output_tokens_per_s": first.get("output_tokens_per_s")}


def _scan(root: Path) -> list[Report]:
    found: list[Report] = []
    if not root.is_dir():
        return found
    base_depth = len(root.resolve().parts)
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if len(here.resolve().parts) - base_depth >= MAX_DEPTH:
            dirnames[:] = []
        if "report.html" not in filenames:
            continue
        for fname, (kind, fmt) in _KINDS.items():
            if fname not in filenames:
                continue
            try:
                data = json.loads((here / fname).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(data, dict) or data.get("format") != fmt:
                continue
            real = here.resolve()
            found.append(Report(
                id=hashlib.sha256(str(real).encode()).hexdigest()[:16], kind=kind, dir=real,
                created_at=data.get("created_at") if isinstance(data.get("created_at"), str) else None,
                mtime=(here / "report.html").stat().st_mtime, headline=_headline(kind, data),
            ))
    return found


def list_reports(ctx: ConsoleContext, who: Principal, kind: str | None = None) -> list[Report]:
    """The newest reports (at most 50), newest first.

    Raises:
        AdminForbidden: a tenant-admin (reports cover the whole platform).
        UsageError: ``kind`` other than bench or eval.
    """
    who.require_all_tenants("bench and eval reports")
    if kind is not None and kind not in ("bench", "eval"):
        raise UsageError(f"kind {kind!r}: use bench or eval")
    seen: dict[str, Report] = {}
    for d in ctx.reports_dirs():
        for r in _scan(d):
            seen.setdefault(r.id, r)
    reports = [r for r in seen.values() if kind is None or r.kind == kind]
    return sorted(reports, key=lambda r: r.mtime, reverse=True)[:MAX_REPORTS]


def report_html(ctx: ConsoleContext, who: Principal, report_id: str) -> bytes:
    """The ``report.html`` of a listed report.

    Raises:
        AdminForbidden: a tenant-admin.
        ReportNotFound: no listed report has that id.
    """
    for r in list_reports(ctx, who):
        if r.id == report_id:
            try:
                return (r.dir / "report.html").read_bytes()
            except OSError:
                break
    raise ReportNotFound(f"no report with id {report_id!r}")


__all__ = ["Report", "areas", "list_reports", "report_html", "run_doctor_areas"]
