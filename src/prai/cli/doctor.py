"""`prai doctor`: the deployment checklist (seed §14) and the taste test (§11), with a fix per failure."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from prai.cli._output import print_json
from prai.cli._params import input_dir, input_file, input_model_dir_hint


def _check_endpoint(url: str) -> None:
    """Refuse an ``--endpoint`` that is not an http(s) URL with a host, before any area runs.

    Raises:
        UsageError: exit 2, with the URL as it was probably meant (``http://HOST:PORT``).
    """
    from urllib.parse import urlsplit

    from prai.errors import UsageError

    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a port that is not a number raises ValueError
    except ValueError:
        ok = False
    if not ok:
        bare = url.split("://", 1)[-1].strip("/") or "127.0.0.1:8000"
        raise UsageError(
            f"--endpoint {url}: not a URL (expected http:// or https://, a host and an optional port)",
            hint=f"e.g. --endpoint http://{bare}",
        )


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor_cmd(
        kitchen: Path | None = typer.Argument(
            None, callback=input_file, help="kitchen.yaml (cluster:, gateway:, doctor: sections)."),
        only: str | None = typer.Option(
            None, "--only", help="Comma-separated areas: storage,images,model,offline,certs,lora,"
            "endpoint,lifecycle."),
        endpoint: str | None = typer.Option(
            None, "--endpoint", help="Base URL to taste (engine or gateway), e.g. http://localhost:8000."),
        api_key: str | None = typer.Option(
            None, "--api-key", help="Gateway API key for the endpoint checks (never printed); "
            "prefer doctor.api_key_env in kitchen.yaml."),
        model: Path | None = typer.Option(
            None, "--model", callback=input_model_dir_hint(
                "check the mount: `ls -lah /mnt/models` in the pod, the PVC name and storageUri path "
                "(seed §7 Tips)"),
            help="Model directory to check (e.g. /mnt/models inside the pod)."),
        served_model_name: str | None = typer.Option(
            None, "--served-model-name", help="The model's served name (default: directory name)."),
        adapter: list[str] | None = typer.Option(
            None, "--adapter", help="NAME=DIR of a LoRA adapter (repeatable; with --model)."),
        max_lora_rank: int | None = typer.Option(
            None, "--max-lora-rank", help="The engine's --max-lora-rank."),
        ca: list[Path] | None = typer.Option(
            None, "--ca", callback=input_file, help="Internal CA file (PEM) to check and trust (repeatable)."),
        deep: bool = typer.Option(False, "--deep", help="Hash files and S3 objects (SHA-256)."),
        live: bool = typer.Option(
            False, "--live", help="Also load the tokenizer with the network blocked and ask "
            "the registry for each image."),
        registry: str | None = typer.Option(
            None, "--registry", metavar="URL|auto",
            help="Model registry to compare (gateway database URL; default with a gateway: "
            "section: its storage.url, as `prai model -c` uses)."),
        rendered: Path | None = typer.Option(
            None, "--rendered", callback=input_dir, help="A `prai render -o` directory whose InferenceServices are "
            "compared with the registry."),
        timeout: float | None = typer.Option(
            None, "--timeout", min=0.1, metavar="SECONDS",
            help="How long an endpoint may stay silent before its check FAILs "
            "(default PRAI_DOCTOR_TIMEOUT_S or 5)."),
        as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (for CI)."),
    ) -> None:
        """Check storage, images, model, offline, certs, LoRA, the endpoint and whether the model
        registry, the rendered manifests and the endpoint agree; exit 1 on any FAIL, 8 when
        nothing could be checked (every check skipped)."""
        from prai.cli._console import make_console
        from prai.cli._interrupt import on_interrupt
        from prai.cli._params import check_input
        from prai.doctor import build_plan, parse_only, render_report, run_doctor
        from prai.errors import UsageError
        from prai.settings import get_settings

        for text in adapter or []:
            name, sep, path = text.partition("=")
            if sep and name and path:
                check_input(f"--adapter {name}=", Path(path), "dir", model_dir=True)
        areas = parse_only(only)
        if endpoint is not None:
            _check_endpoint(endpoint)
        if kitchen is None and model is None and endpoint is None and not ca and registry is None:
            raise UsageError("nothing to check",
                             hint="pass kitchen.yaml, or --model DIR / --endpoint URL / --ca FILE "
                             "/ --registry URL")
        settings = get_settings()
        plan = build_plan(
            kitchen, env=settings.environ, model=model, served_model_name=served_model_name,
            adapters=adapter, max_lora_rank=max_lora_rank, ca=ca, endpoint=endpoint,
            api_key=api_key, deep=deep, live=live, registry=registry, rendered=rendered,
            timeout_s=timeout if timeout is not None else settings.doctor_timeout_s,
        )
        console = make_console(stderr=as_json)
        done: list[str] = []

        def on_area(area: str) -> None:
            done.append(area)
            if not as_json and not console.is_terminal:
                print(f"checking {area}...", file=sys.stderr, flush=True)
            elif not as_json:
                status.update(f"checking {area}...")

        with on_interrupt(lambda: f"areas started: {', '.join(done) or 'none'}",
                          "doctor changes nothing: run it again (--only AREA,... for some areas)"):
            if as_json:
                report = run_doctor(plan, areas, on_area=on_area)
                print_json(report.to_json())
            else:
                with console.status("checking...") as status:
                    report = run_doctor(plan, areas, on_area=on_area)
                render_report(report, console)
        raise typer.Exit(report.exit_code)
