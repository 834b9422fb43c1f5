"""lifecycle: the model registry, the rendered manifests and the live endpoint agree (seed §15).

The registry (the gateway's database; ``--registry`` or the kitchen's ``gateway.storage.url``)
says where each adapter alias routes: its current version and its canary, served by the
engine as ``ALIAS@VERSION``. Two places can lag behind a ``prai model promote`` /
``rollback``:

- the rendered InferenceServices (``--rendered DIR``, a ``prai render -o`` directory, what
  GitOps applies): their ``--lora-modules`` must list every routed served name on the base
  they run on, nothing the registry no longer routes, and their ``prai.io/promoted``
  annotation must record the same versions, bundle digests and canary share. Otherwise a
  restarted pod comes up without the promoted version;
- the live endpoint (``--endpoint`` / ``doctor.endpoint``): ``GET /v1/models`` must list
  every routed served name whose base model it serves (promote loads them at runtime; a
  restarted replica loads only its ``--lora-modules``).

Every difference is a WARN naming it (serving still works until a pod restarts or the
gateway routes to the missing name); PASS when they agree; SKIP when there is no registry
or nothing to compare. The database is only read (:func:`prai.deploy.promoted.read_registry`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prai._http import http_client
from prai.deploy.promoted import (
    ANNOTATION,
    PromotedAlias,
    PromotedVersion,
    RegistryState,
    lora_module_names,
    parse_annotation,
    read_registry,
    sqlite_file,
)
from prai.doctor.plan import DoctorPlan
from prai.doctor.report import DoctorReport

AREA = "lifecycle"
TIMEOUT_S = 30.0
FIX_RENDER = ("re-run `prai render KITCHEN -o DIR --registry URL` and apply it (oc apply -k DIR, "
              "or commit it for GitOps), or `prai model promote/rollback NAME` so the registry "
              "matches what is deployed")
FIX_LIVE = ("`prai model promote NAME VERSION -c kitchen.yaml` loads it on every replica; a "
            "restarted pod loads only its --lora-modules: re-render with --registry and apply")


def _label(v: PromotedVersion, a: PromotedAlias) -> str:
    return "current" if v.role == "current" else f"canary {_pct(a.canary_percent)}%"


def _pct(p: float) -> str:
    return f"{p:g}"


def check_lifecycle(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the lifecycle checks (see the module docstring)."""
    from prai.errors import PraiError

    url = plan.registry_url
    if url is None:
        report.add(AREA, "registry", "SKIP",
                   "no model registry: pass --registry URL (or a kitchen.yaml with a gateway: section)")
        return
    f = sqlite_file(url)
    if f is not None and not f.is_file() and not plan.registry_explicit:
        report.add(AREA, "registry", "SKIP", f"no model registry at {f} (nothing registered here)")
        return
    try:
        state = read_registry(url)
    except PraiError as exc:
        report.add(AREA, "registry", "WARN", f"cannot read the model registry: {exc.message}", exc.hint)
        return
    start = len(report.checks)
    if plan.rendered_dir is not None:
        _against_render(plan, state, report)
    if plan.endpoint:
        _against_endpoint(plan, state, report)
    if len(report.checks) == start:  # nothing was compared
        if not state.aliases:
            text = f"registry {state.url} routes no adapter alias (nothing to compare)"
        else:
            routed = ", ".join(f"{a.name} → {a.current}" for a in state.aliases)
            text = (f"registry {state.url} routes {routed}; nothing to compare it with: pass "
                    "--rendered DIR (a prai render output) and/or --endpoint URL")
        report.add(AREA, "registry", "SKIP", text)


# --- the rendered InferenceServices ------------------------------------------------------


def _rendered_isvcs(root: Path) -> list[tuple[str, dict[str, Any]]]:
    """(relative file, object) of every InferenceService in a render directory."""
    import yaml

    out = []
    for p in sorted(root.rglob("*.yaml")):
        try:
            docs = list(yaml.safe_load_all(p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        for d in docs:
            if isinstance(d, dict) and d.get("kind") == "InferenceService":
                out.append((p.relative_to(root).as_posix(), d))
    return out


def _args(isvc: dict[str, Any]) -> list[str]:
    model = ((isvc.get("spec") or {}).get("predictor") or {}).get("model") or {}
    return [str(a) for a in model.get("args") or []]


def _served_name(isvc: dict[str, Any]) -> str:
    args = _args(isvc)
    for i, a in enumerate(args):
        if a.startswith("--served-model-name="):
            return a.split("=", 1)[1]
        if a == "--served-model-name" and i + 1 < len(args):
            return args[i + 1]
    return str((isvc.get("metadata") or {}).get("name", "?"))


def _against_render(plan: DoctorPlan, state: RegistryState, report: DoctorReport) -> None:
    """Compare the registry with each rendered InferenceService (adds nothing when neither
    side has a registered version)."""
    root = plan.rendered_dir
    assert root is not None
    isvcs = _rendered_isvcs(root) if root.is_dir() else []
    if not isvcs:
        report.add(AREA, "rendered", "WARN",
                   f"{root}: no InferenceService found (is it a `prai render -o` directory?)",
                   "pass --rendered the directory `prai render -o DIR` wrote")
        return
    # Other names of each base model (cluster.models[].aliases), as render matches them.
    other_names = {m.name: set(m.aliases) for m in plan.models}
    placed: set[str] = set()  # served names some rendered InferenceService serves
    for _file, isvc in isvcs:
        md = isvc.get("metadata") or {}
        where = f"{md.get('namespace', '?')}/{md.get('name', '?')}"
        served = _served_name(isvc)
        bases = {served, *other_names.get(served, set())}
        modules = lora_module_names(_args(isvc))
        placed |= set(modules)
        raw = (md.get("annotations") or {}).get(ANNOTATION)
        recorded: dict[str, dict[str, Any]] | None = None
        if raw is not None:
            try:
                recorded = parse_annotation(str(raw))
            except ValueError:
                report.add(AREA, f"rendered {where}", "WARN",
                           f"the {ANNOTATION} annotation of {where} is not valid JSON", FIX_RENDER)
                recorded = {}
        hosted = {a.name for a in state.aliases if any(v.base in bases for v in a.versions)}
        hosted |= set(recorded or {})
        hosted |= {n.split("@", 1)[0] for n in modules if "@" in n}
        if not hosted:
            continue
        if recorded is None and any(state.alias(n) for n in hosted):
            report.add(AREA, f"rendered {where}", "WARN",
                       f"the InferenceService {where} was rendered without --registry (no "
                       f"{ANNOTATION} annotation)", FIX_RENDER)
        for name in sorted(hosted):
            diffs, served_ok = _diff_alias(name, state.alias(name), bases, modules,
                                           (recorded or {}).get(name), recorded is not None, where)
            if diffs:
                report.add(AREA, f"rendered {where} {name}", "WARN", "; ".join(diffs), FIX_RENDER,
                           differences=diffs)
            else:
                report.add(AREA, f"rendered {where} {name}", "PASS",
                           f"the rendered InferenceService {where} serves what the registry "
                           f"routes: {', '.join(served_ok)}")
    for a in state.aliases:
        for v in a.versions:
            if v.served_name not in placed and not any(
                    v.base in {_served_name(i), *other_names.get(_served_name(i), set())}
                    for _f, i in isvcs):
                report.add(AREA, f"rendered {v.served_name}", "WARN",
                           f"registry routes {a.name} → {v.version} ({v.served_name}, "
                           f"{_label(v, a)}) on base {v.base!r}, but no InferenceService in "
                           f"{root} serves that base",
                           "render the kitchen whose cluster.models serves that base (or list "
                           "the base under cluster.models[].aliases) with --registry, and apply it")


def _diff_alias(name: str, alias: PromotedAlias | None, bases: set[str], modules: list[str],
                recorded: dict[str, Any] | None, annotated: bool, where: str,
                ) -> tuple[list[str], list[str]]:
    """(differences, agreeing ``SERVED (role)`` entries) for one alias on one InferenceService."""
    mine = sorted(n for n in modules if n.split("@", 1)[0] == name and "@" in n)
    shown = ", ".join(mine) or f"no version of {name}"
    if alias is None:
        return ([f"the rendered InferenceService {where} serves {shown} (annotation: "
                 f"{_recorded_text(recorded)}), but the registry routes no alias {name}"], [])
    diffs: list[str] = []
    ok: list[str] = []
    expected = [v for v in alias.versions if v.base in bases]
    for v in expected:
        if v.served_name in mine:
            ok.append(f"{v.served_name} ({_label(v, alias)})")
        elif v.role == "current":
            diffs.append(f"registry routes {name} → {v.version} ({v.served_name}) but the rendered "
                         f"InferenceService {where} serves {shown}")
        else:
            diffs.append(f"registry sends {_pct(alias.canary_percent)}% of {name} to canary "
                         f"{v.version} ({v.served_name}) but the rendered InferenceService "
                         f"{where} does not serve it")
    for n in mine:
        if n not in {v.served_name for v in alias.versions}:
            diffs.append(f"the rendered InferenceService {where} serves {n}, which the registry "
                         f"no longer routes ({name} → {alias.current}"
                         + (f", canary {alias.canary}" if alias.canary else "") + ")")
    if annotated and expected:
        want = alias.record()
        if recorded is None:
            diffs.append(f"the {ANNOTATION} annotation of {where} does not record {name}")
        else:
            for key, what in (("digest", "current bundle"), ("canary_digest", "canary bundle"),
                              ("canary_percent", "canary share")):
                same_versions = (recorded.get("current") == want["current"]
                                 and recorded.get("canary") == want["canary"])
                if same_versions and recorded.get(key) != want[key]:
                    diffs.append(f"{name}: the render recorded {what} {_short(recorded.get(key))}, "
                                 f"the registry holds {_short(want[key])}")
    return diffs, ok


def _recorded_text(recorded: dict[str, Any] | None) -> str:
    if not recorded:
        return "none"
    return f"current {recorded.get('current')}" + (
        f", canary {recorded.get('canary')}" if recorded.get("canary") else "")


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12] + "…"
    return f"{value}%" if isinstance(value, int | float) else str(value)


# --- the live endpoint -------------------------------------------------------------------


def _list_models(plan: DoctorPlan, url: str) -> set[str] | str:
    """The ids ``GET URL/v1/models`` lists, or why there are none (one line)."""
    import httpx

    headers = {"Authorization": f"Bearer {plan.api_key}"} if plan.api_key else {}
    try:
        with http_client(ca_file=plan.endpoint_ca, timeout_s=TIMEOUT_S, headers=headers) as c:
            r = c.get(f"{url}/v1/models")
    except httpx.HTTPError as exc:
        return f"GET {url}/v1/models: {type(exc).__name__}"
    try:
        if r.status_code == 200:
            return {str(m["id"]) for m in r.json()["data"]}
    except (ValueError, KeyError, TypeError):
        pass
    return f"GET {url}/v1/models → {r.status_code}, not a model list"


def _against_endpoint(plan: DoctorPlan, state: RegistryState, report: DoctorReport) -> None:
    """Compare the registry with ``GET /v1/models`` (adds nothing without routed aliases)."""
    assert plan.endpoint is not None
    url = plan.endpoint.rstrip("/").removesuffix("/v1")
    if not state.aliases:
        return
    listed = _list_models(plan, url)
    if isinstance(listed, str):
        report.add(AREA, "live", "WARN", f"{listed}; the live versions were not compared",
                   "see the endpoint checks (疎通); through the gateway pass --api-key "
                   "(or doctor.api_key_env)")
        return
    compared = False
    for a in state.aliases:
        here = [v for v in a.versions if v.base in listed]
        if not here:
            continue  # this endpoint does not serve the base model
        compared = True
        missing = [v for v in here if v.served_name not in listed]
        if missing:
            diffs = [f"{v.served_name} is not loaded on {url} (registry routes {a.name} → "
                     f"{v.version}, {_label(v, a)}): requests the gateway sends there fail"
                     for v in missing]
            report.add(AREA, f"live {a.name}", "WARN", "; ".join(diffs), FIX_LIVE,
                       differences=diffs)
        else:
            report.add(AREA, f"live {a.name}", "PASS",
                       f"{url} serves " + ", ".join(f"{v.served_name} ({_label(v, a)})" for v in here))
    if not compared:
        bases = sorted({v.base for a in state.aliases for v in a.versions})
        report.add(AREA, "live", "SKIP", f"{url} serves none of the registered adapters' base "
                   f"models ({', '.join(bases)})")


__all__ = ["check_lifecycle"]
