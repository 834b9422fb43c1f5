"""`prai up [kitchen.yaml]`: engine(s) and gateway together on one machine."""

from __future__ import annotations

from pathlib import Path

import typer

from prai.cli._params import input_file

DEMO_ENGINE_PORT = 8000
DEMO_GATEWAY_PORT = 4000


def refuse_demo_ports(config: Path, *, engine_port: int | None, gateway_port: int | None) -> None:
    """``--port`` / ``--engine-port`` choose the demo kitchen's ports; a kitchen.yaml sets its own.

    Raises:
        UsageError: either was given with a kitchen.yaml (exit 2), rather than ignored.
    """
    from prai.errors import UsageError

    if gateway_port is not None:
        raise UsageError(f"--port {gateway_port}: the gateway port of {config} is its gateway.port "
                         "(--port is for the demo kitchen only)",
                         hint=f"set gateway.port in {config}, or drop --port")
    if engine_port is not None:
        raise UsageError(f"--engine-port {engine_port}: the engine ports of {config} are in its "
                         "gateway.upstreams base_urls (--engine-port is for the demo kitchen only)",
                         hint=f"change the port in the upstream's base_urls in {config}, or drop --engine-port")


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        config: Path | None = typer.Argument(
            None, callback=input_file,
            help="kitchen.yaml (default: PRAI_KITCHEN, else the demo model with one tenant, written to "
            "$PRAI_CACHE_DIR/up/kitchen.yaml, which `prai keys` / `prai audit` / `prai model` then use).",
        ),
        engine_port: int | None = typer.Option(
            None, "--engine-port", min=1, max=65535,
            help=f"Demo engine port (default {DEMO_ENGINE_PORT}); only without a kitchen.yaml, whose "
            "upstreams name their ports."),
        gateway_port: int | None = typer.Option(
            None, "--port", min=1, max=65535,
            help=f"Demo gateway port (default {DEMO_GATEWAY_PORT}); only without a kitchen.yaml, which "
            "sets gateway.port."),
        smoke: bool = typer.Option(
            False, "--smoke", help="Run the taste test through the gateway, then exit."
        ),
    ) -> None:
        """Start `prai serve` (vLLM) for each upstream and the gateway; print an API key for the demo tenant."""
        from prai.cli._console import make_console
        from prai.cli._interrupt import on_interrupt
        from prai.cli._params import ensure_port_free
        from prai.kitchen.up import run_up
        from prai.settings import get_settings

        console = make_console(stderr=True)
        s = get_settings()
        if config is None and s.kitchen is not None:
            from prai.cli._kitchen import resolve_kitchen

            config = resolve_kitchen(None)
        if config is not None:
            refuse_demo_ports(config, engine_port=engine_port, gateway_port=gateway_port)
        engine_port = DEMO_ENGINE_PORT if engine_port is None else engine_port
        gateway_port = DEMO_GATEWAY_PORT if gateway_port is None else gateway_port
        if config is None:  # the demo kitchen: both ports are ours to check before building anything
            ensure_port_free("127.0.0.1", engine_port, "--engine-port")
            ensure_port_free("127.0.0.1", gateway_port, "--port")
        with on_interrupt(lambda: "stopped the engines and the gateway",
                          "nothing to clean up: run `prai up` again (the demo model stays cached)"):
            code = run_up(
                config,
                cache_dir=s.cache_dir,
                engine_port=engine_port,
                gateway_port=gateway_port,
                engine_ready_timeout_s=s.engine_ready_timeout_s,
                smoke=smoke,
                log=lambda line: console.print(line, markup=False),
                console=console,
                progress_interval_s=s.progress_interval_s,
            )
        raise typer.Exit(code)
