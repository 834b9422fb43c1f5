"""`prai demo`: the whole kitchen on one machine (demo model, bring-in, serve, taste test, gateway)."""

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
        """Serve the demo model and its LoRA adapters with vLLM, run the taste test (味見), doctor,
        the gateway with guardrails, a promote/rollback and a short bench."""
        from prai.cli._console import make_console
        from prai.cli._interrupt import on_interrupt
        from prai.kitchen.demo import run_demo

        with on_interrupt(lambda: "stopped the engine and the gateway",
                          "nothing to clean up: run `prai demo` again (the demo model stays in the cache)"):
            code = run_demo(smoke=smoke, port=port, gateway_port=gateway_port, console=make_console())
        raise typer.Exit(code)
