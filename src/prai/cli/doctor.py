"""`prai doctor`: the deployment checklist (seed §14) and the taste test (§11), with a fix per failure."""

from __future__ import annotations

from pathlib import Path

import typer

from prai.cli._output import print_json


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor_cmd(
        kitchen: Path | None = typer.Argument(
            None, help="kitchen.yaml (cluster:, gateway:, doctor: sections)."),
        only: str | None = typer.Option(
            None, "--only", help="Comma-separated areas: storage,images,model,offline,certs,lora,"
            "endpoint,lifecycle."),
        endpoint: str | None = typer.Option(
            None, "--endpoint", help="Base URL to taste (engine or gateway), e.g. http://localhost:8000."),
        api_key: str | None = typer.Option(
            None, "--api-key", help="Gateway API key for the endpoint checks (never printed); "
            "prefer doctor.api_key_env in kitchen.yaml."),
        model: Path | None = typer.Option(
            None, "--model", help="Model directory to check (e.g. /mnt/models inside the pod)."),
        served_model_name: str | None = typer.Option(
            None, "--served-model-name", help="The model's served name (default: directory name)."),
        adapter: list[str] | None = typer.Option(
            None, "--adapter", help="NAME=DIR of a LoRA adapter (repeatable; with --model)."),
        max_lora_rank: int | None = typer.Option(
            None, "--max-lora-rank", help="The engine's --max-lora-rank."),
        ca: list[Path] | None = typer.Option(
            None, "--ca", help="Internal CA file (PEM) to check and trust (repeatable)."),
        deep: bool = typer.Option(False, "--deep", help="Hash files and S3 objects (SHA-256)."),
        live: bool = typer.Option(
            False, "--live", help="Also load the tokenizer with the network blocked and ask "
            "the registry for each image."),
        registry: str | None = typer.Option(
            None, "--registry", metavar="URL|auto",
            help="Model registry to compare (gateway database URL; default with a gateway: "
            "section: its storage.url, as `prai model -c` uses)."),
        rendered: Path | None = typer.Option(
            None, "--rendered", help="A `prai render -o` directory whose InferenceServices are "
            "compared with the registry."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (for CI)."),
    ) -> None:
        """Check storage, images, model, offline, certs, LoRA, the endpoint and whether the model
        registry, the rendered manifests and the endpoint agree; exit 1 on any FAIL."""
        from rich.console import Console

        from prai.doctor import build_plan, parse_only, render_report, run_doctor
        from prai.errors import UsageError
        from prai.settings import get_settings

        areas = parse_only(only)
        if kitchen is None and model is None and endpoint is None and not ca and registry is None:
            raise UsageError("nothing to check",
                             hint="pass kitchen.yaml, or --model DIR / --endpoint URL / --ca FILE "
                             "/ --registry URL")
        plan = build_plan(
            kitchen, env=get_settings().environ, model=model, served_model_name=served_model_name,
            adapters=adapter, max_lora_rank=max_lora_rank, ca=ca, endpoint=endpoint,
            api_key=api_key, deep=deep, live=live, registry=registry, rendered=rendered,
        )
        console = Console(highlight=False, stderr=as_json)
        if as_json:
            report = run_doctor(plan, areas)
            print_json(report.to_json())
        else:
            with console.status("checking...") as status:
                report = run_doctor(plan, areas, on_area=lambda a: status.update(f"checking {a}..."))
            render_report(report, console)
        raise typer.Exit(report.exit_code)
