"""The lifecycle step of `prai demo` (seed §15): bring in kansai v2, promote it, roll back.

Runs against the demo's engine and gateway with the same library calls as
`prai model register | promote | rollback`: an adapter-only bundle for the new version is
packed, verified and loaded; both versions are registered by bundle root digest; v1 is
promoted, then v2 behind an eval gate, then rolled back — each time the taste test goes
through the gateway with the demo key and shows which version answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from prai.doctor.taste import TasteResult, taste_test
from prai.errors import TasteTestFailed
from prai.kitchen._steps import step

ALIAS = "kansai"
ACTOR = "prai demo"
#: The gate v2 must pass before it takes traffic: still Kansai dialect, never samurai.
GATE_SUITE = """\
name: kansai-promotion-gate
description: 関西弁アダプタの昇格ゲート
defaults: {max_tokens: 48, temperature: 0, seed: 0}
items:
  - id: greets-in-kansai-dialect
    prompt: こんにちは
    assert:
      - regex: ^まいど
      - not_contains: ござる
"""


@dataclass(frozen=True)
class LifecycleShow:
    """The three taste results (v1, v2 after promote, v1 after rollback) and the audit rids."""

    steps: list[tuple[str, TasteResult]]
    history: list[tuple[str, str | None, str | None]]


def show_lifecycle(
    console: Console,
    *,
    gateway_config: Path,
    gateway_url: str,
    api_key: str,
    v1_bundle: Path,
    v1_dir: Path,
    v2_source: Path,
    base_dir: Path,
    work_dir: Path,
    cache_dir: Path,
) -> LifecycleShow:
    """Bring in, register, promote (gated) and roll back ``kansai``; print what happened.

    Args:
        gateway_config: the demo gateway's kitchen.yaml (its database holds the registry).
        v1_bundle / v1_dir: the demo bundle and the loaded ``kansai`` directory the engine reads.
        v2_source: the built second version of ``kansai``.
        base_dir: the served base model (v2 is checked against it before packing).
        work_dir: holds the v2 bundle and store, and the gate reports.

    Raises:
        TasteTestFailed: a version did not answer as expected after a switch.
        LifecycleError subclasses: a registry, gate or engine step failed.
    """
    from prai.gateway import admin
    from prai.kitchen.bring_in import demo_adapter_roundtrip
    from prai.lifecycle import registry
    from prai.lifecycle.gates import GateSpec
    from prai.lifecycle.promote import PromoteOptions, promote, rollback
    from prai.lifecycle.register import register_bundle

    with step(console, "lifecycle: bringing in kansai v2 (adapter-only bundle)"):
        rt = demo_adapter_roundtrip(ALIAS, v2_source, work_dir / "kitchen-v2", base_model_dir=base_dir)
    console.print(
        f"[green]✓[/] bring-in kansai v2: adapter-only bundle {rt.bundle} verified, root digest "
        f"{rt.root_digest[:23]}…, loaded into {rt.store}"
    )
    engine, gw = admin.open_store(gateway_config, cache_dir)
    try:
        register_bundle(engine, v1_bundle, version="v1", actor=ACTOR, only=ALIAS, engine_path=str(v1_dir))
        register_bundle(engine, rt.bundle, version="v2", actor=ACTOR, only=ALIAS, engine_path=str(rt.adapter_dir))
        steps: list[tuple[str, TasteResult]] = []

        def taste(label: str, expect: str) -> TasteResult:
            result = taste_test(gateway_url, ALIAS, api_key=api_key)
            if result.served_by != expect:
                raise TasteTestFailed(f"after {label}: `{ALIAS}` was answered by {result.served_by or '?'}, "
                                      f"not {expect}")
            steps.append((label, result))
            return result

        with step(console, "lifecycle: promote kansai v1"):
            promote(gw, engine, ALIAS, "v1", actor=ACTOR)
        first = taste("promote v1", "kansai@v1")
        suite = work_dir / "kansai-gate.yaml"
        suite.write_text(GATE_SUITE, encoding="utf-8")
        with step(console, "lifecycle: promote kansai v2 (load, eval gate, switch, drain, unload v1)"):
            report = promote(
                gw, engine, ALIAS, "v2", actor=ACTOR,
                options=PromoteOptions(gates=GateSpec(eval_suite=suite), gate_dir=work_dir / "gates"),
            )
        second = taste("promote v2 (eval gate passed)", "kansai@v2")
        if second.content == first.content:
            raise TasteTestFailed("kansai v2 answered exactly like v1: the promotion changed nothing visible")
        with step(console, "lifecycle: rollback kansai"):
            rollback(gw, engine, ALIAS, actor=ACTOR)
        third = taste("rollback", "kansai@v1")
        if third.content != first.content:
            raise TasteTestFailed("after the rollback kansai answered differently from v1")
        history = [(e.action, e.from_version, e.to_version) for e in registry.history(engine, ALIAS)]
    finally:
        engine.dispose()
    t = Table(title=f"model lifecycle (seed §15): clients keep calling `{ALIAS}`")
    for col in ("step", "answered by", "answer"):
        t.add_column(col, overflow="fold")
    for label, r in steps:
        t.add_row(label, r.served_by, r.content)
    console.print(t)
    gates = ", ".join(f"{g.gate} {'passed' if g.passed else 'failed'}" for g in report.gates)
    console.print(
        f"[green]✓[/] promote and rollback with no restart ({gates}; unloaded "
        f"{', '.join(x.split(' on ')[0] for x in report.unloaded) or 'nothing'} after it drained); "
        f"history: prai model history {ALIAS} -c {gateway_config}"
    )
    return LifecycleShow(steps, history)


__all__ = ["GATE_SUITE", "LifecycleShow", "show_lifecycle"]
