"""`prai up [kitchen.yaml]`: engine(s) and gateway together on one machine."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        config: Path | None = typer.Argument(
            None, help="kitchen.yaml (default: the demo model, one tenant)."
        ),
        engine_port: int = typer.Option(
            8000, "--engine-port", help="Demo engine port (no kitchen.yaml)."
        ),
        gateway_port: int = typer.Option(4000, "--port", help="Gateway port (no kitchen.yaml)."),
        smoke: bool = typer.Option(
            False, "--smoke", help="Run the taste test through the gateway, then exit."
        ),
    ) -> None:
        """Start `prai serve` (vLLM) for each upstream and the gateway; print an API key for the demo tenant."""
        from rich.console import Console

        from prai.kitchen.up import run_up
        from prai.settings import get_settings

        console = Console(stderr=True, highlight=False, soft_wrap=True)
        s = get_settings()
        raise typer.Exit(
            run_up(
                config,
                cache_dir=s.cache_dir,
                engine_port=engine_port,
                gateway_port=gateway_port,
                engine_ready_timeout_s=s.engine_ready_timeout_s,
                smoke=smoke,
                log=lambda line: console.print(line, markup=False),
            )
        )
