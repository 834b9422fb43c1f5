"""`prai serve`: vLLM's OpenAI-compatible server with PrAI's preflight."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command(
        "serve",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
    )
    def serve(ctx: typer.Context) -> None:
        """Serve a local model directory with vLLM (same flags as `vllm serve`)."""
        from prai.engine.serve import serve_main

        raise typer.Exit(serve_main(list(ctx.args)))
