"""The model registry from the console: aliases, versions, history; promote, canary and
rollback through :mod:`prai.lifecycle.promote`, the functions `prai model` calls, with the
same gates (eval suite, bench comparison). The registry records the change with the
console user as actor (``model.promote`` etc. in the audit chain); the console adds its
own ``admin.model.*`` record with the outcome, refusals included.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from prai.console._audit import admin_record, audit, mark_audited
from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.errors import PraiError, UsageError
from prai.lifecycle import registry


def list_models(ctx: ConsoleContext) -> list[dict[str, Any]]:
    """Every alias with its routing and versions (oldest first)."""
    versions: dict[str, list[dict[str, Any]]] = {}
    for v in registry.list_versions(ctx.engine):
        versions.setdefault(v.name, []).append(asdict(v))
    return [asdict(a) | {"versions": versions.get(a.name, [])} for a in registry.list_aliases(ctx.engine)]


def show_model(ctx: ConsoleContext, name: str) -> dict[str, Any]:
    """One alias: routing, versions, history.

    Raises:
        VersionNotFound: no such alias (HTTP 404).
    """
    alias = registry.get_alias(ctx.engine, name)
    return {
        "alias": asdict(alias),
        "versions": [asdict(v) for v in registry.list_versions(ctx.engine, name)],
        "history": [asdict(e) for e in registry.history(ctx.engine, name)],
    }


def _gates(ctx: ConsoleContext, gate_eval: str | None, gate_bench: bool, max_regression: str | None,
           tokenizer: str | None) -> Any:
    if max_regression and not gate_bench:
        raise UsageError("max_regression applies to the bench gate", hint="set gate_bench: true")
    if not gate_eval and not gate_bench:
        return None
    from prai.bench._spec import parse_thresholds
    from prai.lifecycle.gates import GateSpec

    def path(p: str | None) -> Path | None:
        if not p:
            return None
        q = Path(p)
        return q if q.is_absolute() else ctx.base_dir / q

    return GateSpec(eval_suite=path(gate_eval), bench=gate_bench,
                    max_regression=parse_thresholds(max_regression) or None, tokenizer=path(tokenizer))


def _report(report: Any) -> dict[str, Any]:
    data = asdict(report)
    for g in data.get("gates", []):
        g["report_dir"] = str(g.get("report_dir"))
    return data


def _needs_upstreams(ctx: ConsoleContext, what: str) -> None:
    if not ctx.gateway.upstreams:
        raise UsageError(f"{what} needs the engines behind the gateway",
                         hint="list the vLLM / prai serve replicas under gateway.upstreams in kitchen.yaml")


def promote(
    ctx: ConsoleContext, who: Principal, name: str, version: str, *, canary_percent: float | None = None,
    gate_eval: str | None = None, gate_bench: bool = False, max_regression: str | None = None,
    tokenizer: str | None = None, drain_timeout_s: float = 300.0, client: str | None = None,
) -> dict[str, Any]:
    """Promote ``version`` of ``name`` (or make it the canary for ``canary_percent`` % of keys).

    Relative gate paths resolve against kitchen.yaml's directory; gate reports go under
    the console's gate directory (listed on the checks page).

    Raises:
        AdminForbidden: not a platform-admin.
        VersionNotFound, RegistryError, EngineUpdateFailed, PromotionRefused: as `prai model promote`.
    """
    from prai.lifecycle.promote import PromoteOptions
    from prai.lifecycle.promote import promote as do_promote

    who.require_platform_admin("promoting a model")
    action = "canary" if canary_percent is not None else "promote"
    detail: dict[str, Any] = {"version": version, "canary_percent": canary_percent, "gate_eval": gate_eval,
                              "gate_bench": gate_bench, "max_regression": max_regression, "tokenizer": tokenizer,
                              "drain_timeout_s": drain_timeout_s}
    try:
        _needs_upstreams(ctx, "promote")
        gates = _gates(ctx, gate_eval, gate_bench, max_regression, tokenizer)
        report = do_promote(
            ctx.gateway, ctx.engine, name, version, actor=who.actor,
            options=PromoteOptions(canary_percent=canary_percent, gates=gates, gate_dir=ctx.gate_dir,
                                   drain_timeout_s=drain_timeout_s),
        )
    except PraiError as exc:
        audit(ctx.engine, admin_record(f"model.{action}", actor=who.username, role=who.role, client=client,
                                       model=name, status=exc.http_status, error_type=exc.error_type,
                                       detail={**detail, "error": exc.message[:500]}))
        mark_audited(exc)
        raise
    out = _report(report)
    audit(ctx.engine, admin_record(f"model.{action}", actor=who.username, role=who.role, client=client, model=name,
                                   detail={**detail, "result": report.action, "from": report.from_version,
                                           "to": report.to_version,
                                           "gates": {g.gate: g.passed for g in report.gates}}))
    return out


def rollback(
    ctx: ConsoleContext, who: Principal, name: str, *, drain_timeout_s: float = 300.0, client: str | None = None
) -> dict[str, Any]:
    """Undo the last change of ``name`` (drop the canary, else restore the previous version).

    Raises:
        AdminForbidden: not a platform-admin.
        VersionNotFound, RegistryError, EngineUpdateFailed: as `prai model rollback`.
    """
    from prai.lifecycle.promote import PromoteOptions
    from prai.lifecycle.promote import rollback as do_rollback

    who.require_platform_admin("rolling back a model")
    try:
        _needs_upstreams(ctx, "rollback")
        report = do_rollback(ctx.gateway, ctx.engine, name, actor=who.actor,
                             options=PromoteOptions(drain_timeout_s=drain_timeout_s))
    except PraiError as exc:
        audit(ctx.engine, admin_record("model.rollback", actor=who.username, role=who.role, client=client,
                                       model=name, status=exc.http_status, error_type=exc.error_type,
                                       detail={"error": exc.message[:500]}))
        mark_audited(exc)
        raise
    audit(ctx.engine, admin_record("model.rollback", actor=who.username, role=who.role, client=client, model=name,
                                   detail={"from": report.from_version, "to": report.to_version}))
    return _report(report)


__all__ = ["list_models", "promote", "rollback", "show_model"]
