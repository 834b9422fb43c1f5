"""`prai model promote` and `prai model rollback`: switch an alias with no failed request.

Order of a promotion (an adapter version on running vLLM replicas):

1. load the new version on every replica serving its base model (all or nothing);
2. run the gates against it (eval suite, bench compared with the current version); a
   failing gate unloads what step 1 loaded and refuses with the failing items;
3. switch the alias in the registry (one transaction with history and audit record);
4. wait until every gateway has seen the switch (``2 × routing_refresh_s`` + 0.5 s);
5. unload each version no longer routed, once its in-flight requests have drained.

Requests resolved before step 3 finish on the old version (it stays loaded until it
drains); requests after it go to the new one; a request that still reaches an unloaded
version is re-resolved by the gateway (see ``GatewayApp._retarget``). Base-model versions
are not loaded at runtime (vLLM cannot): their served name must already be served.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from prai.config.gateway import GatewayConfig
from prai.errors import EngineUpdateFailed, PromotionRefused, RegistryError
from prai.lifecycle import engine_ops, registry
from prai.lifecycle.registry import AliasState, ModelVersion, served_name

if TYPE_CHECKING:
    from prai.lifecycle.gates import GateResult, GateSpec

Progress = Callable[[str], None]


@dataclass
class ChangeReport:
    """What a promotion or rollback did.

    Attributes:
        action: ``promote``, ``canary``, ``rollback`` or ``none`` (already in that state).
        from_version / to_version: the alias's version before and after (for a canary:
            the current version and the canary).
        loaded / unloaded: ``SERVED_NAME on REPLICA`` entries.
        left_loaded: versions still busy after the drain timeout (left loaded, harmless;
            unload later).
        gates: gate results (empty without gates).
        state: the alias after the change.
    """

    name: str
    action: str
    from_version: str | None
    to_version: str | None
    canary_percent: float | None = None
    loaded: list[str] = field(default_factory=list)
    unloaded: list[str] = field(default_factory=list)
    left_loaded: list[str] = field(default_factory=list)
    gates: list[GateResult] = field(default_factory=list)
    state: AliasState | None = None


@dataclass(frozen=True)
class PromoteOptions:
    """Options of :func:`promote` / :func:`rollback`.

    Attributes:
        canary_percent: route this share of API keys (0 < p < 100) to the version and keep
            the current one for the rest; None = full promotion.
        gates: gates the version must pass first (None = no gates).
        gate_dir: where gate reports go.
        drain_timeout_s: longest wait for an old version's in-flight requests (s).
        propagation_s: wait after the switch before unloading (s); default
            ``2 × routing_refresh_s + 0.5``.
    """

    canary_percent: float | None = None
    gates: GateSpec | None = None
    gate_dir: Path | None = None
    drain_timeout_s: float = 300.0
    propagation_s: float | None = None


def _noop(_msg: str) -> None:
    pass


class _Lifecycle:
    def __init__(self, cfg: GatewayConfig, engine: Engine, actor: str, opts: PromoteOptions,
                 progress: Progress) -> None:
        self.cfg, self.engine, self.actor, self.opts, self.say = cfg, engine, actor, opts, progress
        self._replicas: list[engine_ops.EngineReplica] | None = None

    def replicas_for(self, ver: ModelVersion) -> list[engine_ops.EngineReplica]:
        assert ver.base is not None
        return engine_ops.replicas_serving(engine_ops.replicas_of(self.cfg), ver.base)

    def refuse_shadowing(self, name: str) -> None:
        """An alias must not take the name of a base model an engine serves: it would send
        every project's requests for that model to the alias's versions."""
        for rep in engine_ops.replicas_of(self.cfg):
            models = engine_ops.served_models(rep)
            if name in models and models[name] is None:
                raise RegistryError(
                    f"{name!r} is the base model served by {rep.label}: an alias of that name would "
                    "take over every request for it",
                    hint="register the versions under another name (--name), e.g. "
                    f"{name}-chat, and let clients call that",
                )

    def ensure_served(self, ver: ModelVersion, report: ChangeReport) -> list[engine_ops.EngineReplica]:
        """Load an adapter version everywhere its base runs; check a model version is served."""
        if ver.kind == "adapter":
            assert ver.path is not None
            reps = self.replicas_for(ver)
            self.say(f"loading {ver.served_name} on {len(reps)} replica(s)")
            newly = engine_ops.load_everywhere(reps, ver.served_name, ver.path)
            report.loaded += [f"{ver.served_name} on {r.label}" for r in newly]
            registry.mark_loaded(self.engine, ver.name, ver.version)
            return newly
        reps = engine_ops.replicas_of(self.cfg)
        if not any(ver.served_name in engine_ops.served_models(r) for r in reps):
            raise EngineUpdateFailed(
                f"no upstream serves {ver.served_name}",
                hint=f"deploy it first: serve the model with --served-model-name {ver.served_name} "
                "(prai render emits it) and list that server under gateway.upstreams",
            )
        return []

    def undo_load(self, ver: ModelVersion, newly: list[engine_ops.EngineReplica]) -> None:
        """Unload what this command loaded, unless the version is routed now (a concurrent
        promotion that won the race may have switched to it meanwhile)."""
        if not newly:
            return
        try:
            now = registry.get_alias(self.engine, ver.name)
        except Exception:  # no registry answer: leaving it loaded is the safe side
            return
        if ver.version in (now.current, now.canary):
            return
        for rep in newly:
            try:
                engine_ops.unload_adapter(rep, ver.served_name)
            except EngineUpdateFailed as exc:
                self.say(f"warning: {exc.message}")

    def run_gates(self, ver: ModelVersion, current: str | None, report: ChangeReport) -> None:
        spec = self.opts.gates
        if spec is None:
            return
        from prai.lifecycle.gates import run_gates

        reps = self.replicas_for(ver) if ver.kind == "adapter" else [
            r for r in engine_ops.replicas_of(self.cfg) if ver.served_name in engine_ops.served_models(r)
        ]
        rep = reps[0]
        out = self.opts.gate_dir or Path.cwd() / "prai-gates"
        self.say(f"running gates against {ver.served_name} on {rep.label}")
        report.gates = run_gates(
            spec,
            target=rep.base_url,
            candidate=ver.served_name,
            current=served_name(ver.name, current) if current else None,
            out_dir=out / f"{ver.name}-{ver.version}",
            api_key=rep.api_key,
            ca_bundle=rep.ca_bundle,
        )

    def propagate(self) -> None:
        """Wait until every gateway process has polled the registry since the switch, so
        the command returns when clients get the new routing."""
        wait = self.opts.propagation_s
        if wait is None:
            wait = 2 * self.cfg.routing_refresh_s + 0.5
        self.say(f"waiting {wait:.1f} s for every gateway to route to the new version")
        time.sleep(wait)

    def retire(self, versions: list[ModelVersion], report: ChangeReport, *, switched: bool = True) -> None:
        """Wait for propagation (after a switch), then unload each adapter version once it
        has drained."""
        adapters = [v for v in versions if v.kind == "adapter"]
        try:
            if switched:
                self.propagate()
            if adapters:
                self._unload_drained(adapters, report)
        except KeyboardInterrupt:
            if not adapters:
                raise
            names = ", ".join(v.served_name for v in adapters)
            self.say(f"interrupted after the switch: {names} may still be loaded (harmless); run "
                     f"`prai model promote {adapters[0].name} VERSION` for the current version to unload it")
            raise

    def _unload_drained(self, adapters: list[ModelVersion], report: ChangeReport) -> None:
        for ver in adapters:
            try:
                reps = self.replicas_for(ver)
            except EngineUpdateFailed as exc:
                self.say(f"warning: {exc.message}")
                continue
            reps = [r for r in reps if ver.served_name in engine_ops.served_models(r)]
            self.say(f"draining {ver.served_name} (up to {self.opts.drain_timeout_s:g} s)")
            busy = engine_ops.wait_drained(reps, ver.served_name, timeout_s=self.opts.drain_timeout_s)
            for rep in reps:
                if rep in busy:
                    report.left_loaded.append(f"{ver.served_name} on {rep.label}")
                    continue
                if engine_ops.unload_adapter(rep, ver.served_name):
                    report.unloaded.append(f"{ver.served_name} on {rep.label}")


def _resync(lc: _Lifecycle, ver: ModelVersion, report: ChangeReport) -> ChangeReport:
    """Already routed that way: make sure the version is loaded (an engine that restarted
    since lost its runtime-loaded adapters) and unload the alias's versions that are loaded
    but no longer routed (an interrupted promotion left them)."""
    lc.ensure_served(ver, report)
    state = report.state
    assert state is not None
    if ver.kind == "adapter":
        routed = {state.current, state.canary}
        loaded: set[str] = set()
        for rep in lc.replicas_for(ver):
            loaded |= set(engine_ops.served_models(rep))
        stale = [v for v in registry.list_versions(lc.engine, ver.name)
                 if v.version not in routed and v.served_name in loaded]
        if stale:
            lc.retire(stale, report, switched=False)
    return report


def promote(
    cfg: GatewayConfig,
    engine: Engine,
    name: str,
    version: str,
    *,
    actor: str,
    options: PromoteOptions | None = None,
    progress: Progress = _noop,
) -> ChangeReport:
    """Make ``version`` the current version of ``name`` (or its canary).

    Raises:
        VersionNotFound: unknown alias or version.
        RegistryError: nothing sensible to do (a canary of the current version, a canary
            before any full promotion, a bad percentage, a concurrent change).
        EngineUpdateFailed: loading on a replica failed (nothing switched, nothing left loaded).
        PromotionRefused: a gate failed (nothing switched; the new version unloaded again).
    """
    opts = options or PromoteOptions()
    lc = _Lifecycle(cfg, engine, actor, opts, progress)
    alias = registry.get_alias(engine, name)
    ver = registry.get_version(engine, name, version)
    pct = opts.canary_percent
    if pct is not None:
        if not 0 < pct < 100:
            raise RegistryError(
                f"--canary {pct:g}% must be above 0 and below 100",
                hint="use e.g. --canary 10%; promote without --canary to switch all traffic",
            )
        if alias.current is None:
            raise RegistryError(
                f"{name} has no current version yet: a canary needs one to compare with",
                hint=f"promote a first version fully: prai model promote {name} {version}",
            )
        if version == alias.current:
            raise RegistryError(f"{name} {version} is already the current version; a canary must be another")
        if alias.canary == version and alias.canary_percent == pct:
            return _resync(lc, ver, ChangeReport(name, "none", alias.current, version, pct, state=alias))
        action, cur, prev, canary = "canary", alias.current, alias.previous, version
        retired_names = {v for v in (alias.canary,) if v is not None and v != version}
        from_v: str | None = alias.canary or alias.current
    else:
        if alias.current == version and alias.canary is None:
            return _resync(lc, ver, ChangeReport(name, "none", version, version, state=alias))
        action, cur, canary = "promote", version, None
        prev = alias.current if alias.current != version else alias.previous
        retired_names = {v for v in (alias.current, alias.canary) if v is not None and v != version}
        from_v = alias.current
    report = ChangeReport(name, action, from_v, version, pct)
    lc.refuse_shadowing(name)
    if opts.gates is not None:
        from prai.lifecycle.gates import check_gates

        # Bad gate input is refused before anything is loaded.
        check_gates(opts.gates, candidate=ver.served_name, has_current=alias.current not in (None, version))
        (opts.gate_dir or Path.cwd() / "prai-gates").mkdir(parents=True, exist_ok=True)
    newly = lc.ensure_served(ver, report)
    try:
        lc.run_gates(ver, alias.current if alias.current != version else alias.previous, report)
        failures = [f"{g.gate}: {line}" for g in report.gates if not g.passed for line in g.failures]
        failed_gates = [g for g in report.gates if not g.passed]
        if failed_gates:
            reports = ", ".join(str(g.report_dir) for g in failed_gates)
            raise PromotionRefused(
                f"{name} {version} failed {len(failed_gates)} gate(s); nothing was switched:\n  "
                + "\n  ".join(failures or ["(no details)"])
                + f"\nreports: {reports}"
            )
        report.state = registry.set_route(
            engine, name, action=action, current=cur, previous=prev, canary=canary,
            canary_percent=pct or 0.0, actor=actor, expect_generation=alias.generation,
            from_version=from_v, to_version=version,
            detail={"digest": ver.digest, "gates": [g.gate for g in report.gates]},
        )
    except BaseException:
        lc.undo_load(ver, newly)
        report.loaded.clear()
        raise
    progress(f"{name} → {version}" + (f" for {pct:g}% of API keys" if pct else ""))
    lc.retire([registry.get_version(engine, name, v) for v in sorted(retired_names)], report)
    return report


def rollback(
    cfg: GatewayConfig,
    engine: Engine,
    name: str,
    *,
    actor: str,
    options: PromoteOptions | None = None,
    progress: Progress = _noop,
) -> ChangeReport:
    """Undo the last change of ``name``: drop its canary, else restore the previous version.

    Raises:
        VersionNotFound: unknown alias.
        RegistryError: nothing to roll back to, or a concurrent change.
        EngineUpdateFailed: the previous version could not be loaded again (nothing switched).
    """
    opts = options or PromoteOptions()
    lc = _Lifecycle(cfg, engine, actor, opts, progress)
    alias = registry.get_alias(engine, name)
    if alias.canary is not None:
        report = ChangeReport(name, "rollback", alias.canary, alias.current)
        report.state = registry.set_route(
            engine, name, action="rollback", current=alias.current, previous=alias.previous,
            canary=None, canary_percent=0.0, actor=actor, expect_generation=alias.generation,
            from_version=alias.canary, to_version=alias.current, detail={"dropped": "canary"},
        )
        progress(f"{name}: canary {alias.canary} dropped; all traffic on {alias.current}")
        lc.retire([registry.get_version(engine, name, alias.canary)], report)
        return report
    if alias.previous is None and alias.current is not None and _engines_serve(cfg, name):
        # The first promotion took over a name the engines serve themselves (e.g. a LoRA
        # adapter from --lora-modules): rolling it back hands the name back to them.
        cur = registry.get_version(engine, name, alias.current)
        report = ChangeReport(name, "rollback", alias.current, None)
        report.state = registry.set_route(
            engine, name, action="rollback", current=None, previous=None, canary=None,
            canary_percent=0.0, actor=actor, expect_generation=alias.generation,
            from_version=alias.current, to_version=None, detail={"restored": "engine's own " + name},
        )
        progress(f"{name}: routed to the engines' own {name} again (rolled back from {alias.current})")
        lc.retire([cur], report)
        return report
    if alias.previous is None or alias.current is None:
        raise RegistryError(
            f"{name} has nothing to roll back to"
            + (f" (current: {alias.current}, no previous version)" if alias.current else ""),
            hint=f"`prai model history {name}` shows earlier versions; promote one with "
            f"`prai model promote {name} VERSION`",
        )
    target = registry.get_version(engine, name, alias.previous)
    report = ChangeReport(name, "rollback", alias.current, alias.previous)
    newly = lc.ensure_served(target, report)
    try:
        report.state = registry.set_route(
            engine, name, action="rollback", current=alias.previous, previous=None, canary=None,
            canary_percent=0.0, actor=actor, expect_generation=alias.generation,
            from_version=alias.current, to_version=alias.previous, detail={"digest": target.digest},
        )
    except BaseException:
        lc.undo_load(target, newly)
        raise
    progress(f"{name} → {alias.previous} (rolled back from {alias.current})")
    lc.retire([registry.get_version(engine, name, alias.current)], report)
    return report


def _engines_serve(cfg: GatewayConfig, name: str) -> bool:
    """Whether some replica serves ``name`` itself (not as an alias's version)."""
    for rep in engine_ops.replicas_of(cfg):
        try:
            if name in engine_ops.served_models(rep):
                return True
        except EngineUpdateFailed:
            continue
    return False


__all__ = ["ChangeReport", "PromoteOptions", "promote", "rollback"]
