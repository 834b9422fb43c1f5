"""`prai model register | list | show | promote | rollback | history` (model lifecycle)."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from prai.cli._console import make_console
from prai.cli._kitchen import open_kitchen_store
from prai.cli._output import print_json
from prai.cli._params import input_bundle, input_file, input_model_dir, output_path
from prai.errors import UsageError

_CONFIG_HELP = (
    "kitchen.yaml with a `gateway:` section (its storage holds the registry; default: "
    "PRAI_KITCHEN, else the kitchen of `prai up`)."
)


def _ts(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if t else "-"


def parse_percent(text: str) -> float:
    """``10%``, ``10`` or ``2.5%`` → 10.0 / 2.5.

    Raises:
        UsageError: not a number between 0 and 100 (exclusive).
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if not m or not 0 < float(m.group(1)) < 100:
        raise UsageError(f"--canary {text!r}: not a percentage above 0 and below 100", hint="use e.g. --canary 10%")
    return float(m.group(1))


def _needs_gateway(gw: Any, what: str) -> Any:
    if gw is None or not gw.upstreams:
        raise UsageError(
            f"{what} needs the engines behind the gateway",
            hint="pass -c kitchen.yaml whose gateway.upstreams lists the vLLM / prai serve replicas",
        )
    return gw


def register(app: typer.Typer) -> None:
    model = typer.Typer(
        help="Versions of models and LoRA adapters: register, promote (canary), rollback, history.",
        no_args_is_help=True,
    )
    app.add_typer(model, name="model")

    def actor_of(actor: str | None) -> str:
        from prai.settings import get_settings

        return actor or get_settings().actor

    @model.command("register")
    def register_cmd(
        bundle: Path = typer.Argument(..., callback=input_bundle, help="A prai bundle (directory, tar or parts)."),
        version: str = typer.Option(..., "--version", "-V", help="Version label, e.g. v2 (immutable)."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        only: str | None = typer.Option(None, "--only", help="Register only this model/adapter of the bundle."),
        name: str | None = typer.Option(None, "--name", help="Alias name (default: the name in the bundle)."),
        base: str | None = typer.Option(
            None, "--base", help="Adapters: the base model's served name (default: from adapter_config.json)."
        ),
        path: str | None = typer.Option(
            None, "--path", help="Adapters: the directory as the engine sees it (default: inside BUNDLE)."
        ),
        key: Path | None = typer.Option(
            None, "--key", callback=input_file, help="PEM public key: require a valid signature."),
        actor: str | None = typer.Option(None, "--actor", help="Who registers (default PRAI_ACTOR or USER@HOST)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Verify a bundle and register its model/adapters as VERSION (keyed by its root digest)."""
        from prai.lifecycle.register import register_bundle

        engine, _gw = open_kitchen_store(config)
        versions = register_bundle(
            engine, bundle, version=version, actor=actor_of(actor), only=only, name=name,
            base=base, engine_path=path, key=key,
        )
        if as_json:
            print_json([asdict(v) for v in versions])
            return
        for v in versions:
            print(f"registered {v.kind} {v.name} {v.version} as {v.served_name} (bundle sha256:{v.digest[:16]}…)")
        where = f"-c {config}" if config else "-c KITCHEN.yaml (and register with the same -c)"
        print(f"next: prai model promote {versions[0].name} {versions[0].version} {where}")

    @model.command("list")
    def list_cmd(
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Aliases and where they route."""
        from rich.table import Table

        from prai.lifecycle import registry

        engine, _gw = open_kitchen_store(config)
        aliases = registry.list_aliases(engine)
        counts: dict[str, int] = {}
        for v in registry.list_versions(engine):
            counts[v.name] = counts.get(v.name, 0) + 1
        if as_json:
            print_json([asdict(a) | {"versions": counts.get(a.name, 0)} for a in aliases])
            return
        if not aliases:
            print("no models registered yet: prai model register BUNDLE --version v1")
            return
        t = Table("NAME", "KIND", "CURRENT", "CANARY", "PREVIOUS", "VERSIONS", "UPDATED", "BY")
        for a in aliases:
            canary = f"{a.canary} ({a.canary_percent:g}%)" if a.canary else "-"
            t.add_row(a.name, a.kind, a.current or "-", canary, a.previous or "-", str(counts.get(a.name, 0)),
                      _ts(a.updated_at), a.updated_by or "-")
        make_console().print(t)

    @model.command("show")
    def show_cmd(
        name: str = typer.Argument(..., help="Alias name."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """One alias: its routing and every registered version."""
        from rich.table import Table

        from prai.lifecycle import registry

        engine, _gw = open_kitchen_store(config)
        a = registry.get_alias(engine, name)
        versions = registry.list_versions(engine, name)
        if as_json:
            print_json({"alias": asdict(a), "versions": [asdict(v) for v in versions]})
            return
        route = f"current {a.current or '-'}"
        if a.canary:
            route += f", canary {a.canary} for {a.canary_percent:g}% of API keys"
        print(f"{a.name} ({a.kind}): {route}; rollback restores {a.previous or 'nothing'}")
        t = Table("VERSION", "ROLE", "BUNDLE DIGEST", "BASE", "RANK", "REGISTERED", "LOADED")
        for v in versions:
            role = ("current" if v.version == a.current else "canary" if v.version == a.canary
                    else "previous" if v.version == a.previous else "")
            t.add_row(v.version, role, v.digest[:12] + "…", v.base or "-",
                      str(v.rank) if v.rank else "-", _ts(v.registered_at), _ts(v.loaded_at))
        make_console().print(t)
        print("served names NAME@VERSION; paths, source bundles and who verified them: --json")

    @model.command("history")
    def history_cmd(
        name: str = typer.Argument(..., help="Alias name."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Every registration, promotion, canary and rollback of an alias (who, when, from, to)."""
        from rich.table import Table

        from prai.lifecycle import registry

        engine, _gw = open_kitchen_store(config)
        events = registry.history(engine, name)
        if as_json:
            print_json([asdict(e) for e in events])
            return
        t = Table("WHEN (UTC)", "ACTION", "FROM", "TO", "CANARY", "BY", "AUDIT RID")
        for e in events:
            t.add_row(_ts(e.ts), e.action, e.from_version or "-", e.to_version or "-",
                      f"{e.canary_percent:g}%" if e.canary_percent else "-", e.actor or "-", e.audit_rid or "-")
        make_console().print(t)

    @model.command("promote")
    def promote_cmd(
        name: str = typer.Argument(..., help="Alias name (what clients put in `model`)."),
        version: str = typer.Argument(..., help="A registered version."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        canary: str | None = typer.Option(
            None, "--canary", help="Send this share of API keys (sticky per key) to VERSION, e.g. 10%."
        ),
        gate_eval: Path | None = typer.Option(
            None, "--gate-eval", callback=input_file, help="A prai eval suite VERSION must pass first."
        ),
        gate_bench: bool = typer.Option(
            False, "--gate-bench", help="Bench VERSION against the current version first (prai bench compare)."
        ),
        max_regression: str | None = typer.Option(
            None, "--max-regression", help="Bench gate thresholds, e.g. ttft_p95=10%,output_tokens_per_s=5%."
        ),
        tokenizer: Path | None = typer.Option(
            None, "--tokenizer", callback=input_model_dir, help="Local tokenizer dir for the bench gate."),
        gate_dir: Path | None = typer.Option(
            None, "--gate-dir", callback=output_path, help="Where gate reports go (default ./prai-gates)."),
        drain_timeout: float = typer.Option(
            300.0, "--drain-timeout", min=0, help="Seconds to wait for the old version's requests."
        ),
        actor: str | None = typer.Option(None, "--actor", help="Who promotes (default PRAI_ACTOR or USER@HOST)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Route NAME to VERSION: load it, pass the gates, switch, drain and unload the old one."""
        from prai.lifecycle.promote import PromoteOptions, promote

        pct = parse_percent(canary) if canary is not None else None
        gates = _gate_spec(gate_eval, gate_bench, max_regression, tokenizer)
        engine, gw = open_kitchen_store(config)
        _needs_gateway(gw, "prai model promote")
        steps: list[str] = []

        def say(m: str) -> None:
            steps.append(m)
            if not as_json:
                print(f"· {m}", flush=True)

        from prai.cli._interrupt import on_interrupt

        where = f" -c {config}" if config else ""
        with on_interrupt(lambda: f"last step: {steps[-1]}" if steps else "nothing switched yet",
                          f"the alias switches in one transaction, so it routes either way: see `prai model show "
                          f"{name}{where}`, then run the same promote again"):
            report = promote(
                gw, engine, name, version, actor=actor_of(actor), progress=say,
                options=PromoteOptions(canary_percent=pct, gates=gates, gate_dir=gate_dir,
                                       drain_timeout_s=drain_timeout),
            )
        _print_report(report, as_json)

    @model.command("rollback")
    def rollback_cmd(
        name: str = typer.Argument(..., help="Alias name."),
        config: Path | None = typer.Option(None, "--config", "-c", callback=input_file, help=_CONFIG_HELP),
        drain_timeout: float = typer.Option(
            300.0, "--drain-timeout", min=0, help="Seconds to wait for the rolled-back version's requests."
        ),
        actor: str | None = typer.Option(None, "--actor", help="Who rolls back (default PRAI_ACTOR or USER@HOST)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Undo the last change: drop the canary, else restore the previous version."""
        from prai.lifecycle.promote import PromoteOptions, rollback

        engine, gw = open_kitchen_store(config)
        _needs_gateway(gw, "prai model rollback")
        say = (lambda m: None) if as_json else (lambda m: print(f"· {m}", flush=True))
        report = rollback(gw, engine, name, actor=actor_of(actor), progress=say,
                          options=PromoteOptions(drain_timeout_s=drain_timeout))
        _print_report(report, as_json)


def _gate_spec(gate_eval: Path | None, gate_bench: bool, max_regression: str | None,
               tokenizer: Path | None) -> Any:
    if max_regression is not None and not gate_bench:
        raise UsageError("--max-regression applies to the bench gate", hint="add --gate-bench")
    if gate_eval is None and not gate_bench:
        return None
    from prai.bench._spec import parse_thresholds
    from prai.lifecycle.gates import GateSpec

    return GateSpec(eval_suite=gate_eval, bench=gate_bench,
                    max_regression=parse_thresholds(max_regression) or None, tokenizer=tokenizer)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        data = asdict(report)
        print_json(data)
        return
    for g in report.gates:
        notes = f"; {'; '.join(g.notes)}" if g.notes else ""
        print(f"gate {g.gate}: {'passed' if g.passed else 'FAILED'} ({g.report_dir}{notes})")
    for line in report.loaded:
        print(f"loaded   {line}")
    for line in report.unloaded:
        print(f"unloaded {line}")
    for line in report.left_loaded:
        print(f"still busy, left loaded: {line}")
    if report.action == "none":
        print(f"{report.name}: already routed that way; nothing switched")
        return
    s = report.state
    route = f"current {s.current}" + (f", canary {s.canary} ({s.canary_percent:g}%)" if s.canary else "")
    if s.current is None:
        route = f"the engines' own {report.name} (no alias routing)"
    print(f"{report.name}: {report.action} {report.from_version or '-'} → {report.to_version or 'engine'}; "
          f"now {route}")
