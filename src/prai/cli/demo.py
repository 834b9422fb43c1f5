"""`prai demo`: the whole kitchen on one machine (build demo model, serve, taste test)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        smoke: bool = typer.Option(False, "--smoke", help="Exit after the checks (0 only if all passed)."),
        port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port for the engine (127.0.0.1)."),
        gateway_port: int = typer.Option(
            4000, "--gateway-port", min=1, max=65535, help="Port for the gateway (127.0.0.1)."
        ),
    ) -> None:
        """Build the demo model and adapters, serve them with vLLM, run the taste test (味見)."""
        from prai.kitchen.demo import run_demo

        raise typer.Exit(run_demo(smoke=smoke, port=port, gateway_port=gateway_port))
