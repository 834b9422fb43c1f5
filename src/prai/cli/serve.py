"""`prai serve`: vLLM's OpenAI-compatible server with PrAI's preflight.

Its arguments are vLLM's (``--lora-modules a=DIR b=DIR`` takes several values, and any
flag PrAI does not inspect goes to vLLM unchanged), so :mod:`prai.engine.args` parses them,
not typer. ``prai serve --help`` is drawn by typer from :func:`_documented`, which declares
the same flags, so it looks like every other command's help.
"""

from __future__ import annotations

from pathlib import Path

import typer

USAGE_OPTIONS = "[--preflight-only [--json]] [OPTIONS]"


def _documented(
    model_dir: Path | None = typer.Argument(None, metavar="MODEL_DIR", help="Same as --model."),
    vllm_args: list[str] | None = typer.Argument(
        None, metavar="VLLM_ARGS", help="Any other `vllm serve` flag, passed to vLLM unchanged."),
    model: Path | None = typer.Option(
        None, "--model", help="Local model directory (a hub repo id is refused: nothing is downloaded)."),
    served_model_name: list[str] | None = typer.Option(
        None, "--served-model-name", metavar="NAME...", help="Name(s) clients put in `model`."),
    enable_lora: bool = typer.Option(False, "--enable-lora", help="Enable LoRA (implied by --lora-modules)."),
    lora_modules: list[str] | None = typer.Option(
        None, "--lora-modules", metavar="NAME=DIR|JSON...",
        help='Adapters: NAME=DIR items or JSON {"name", "path", "base_model_name"}.'),
    max_loras: int | None = typer.Option(None, "--max-loras", help="Adapters in one batch."),
    max_lora_rank: int | None = typer.Option(
        None, "--max-lora-rank", help="Default: the largest adapter rank rounded up to a value vLLM accepts."),
    max_model_len: int | None = typer.Option(None, "--max-model-len", help="Context length (tokens)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address."),
    port: int = typer.Option(8000, "--port", help="Port (refused at once when another process holds it)."),
    runner: str | None = typer.Option(None, "--runner", metavar="auto|generate|pooling|draft",
                                      help="vLLM runner (pooling: embedding models)."),
    tokenizer: Path | None = typer.Option(None, "--tokenizer", help="Local tokenizer directory."),
    preflight_only: bool = typer.Option(
        False, "--preflight-only", help="Run the checks and print the vLLM command; do not start it."),
    as_json: bool = typer.Option(
        False, "--json", help="With --preflight-only: print the findings and the command as JSON."),
) -> None:
    """Serve a local model directory with vLLM's OpenAI-compatible server (the flags of
    `vllm serve`), after PrAI's preflight: model complete, adapters fit, port free,
    closed-network environment. vLLM's own log goes to stderr, PrAI's lines start with
    `prai serve:`."""


def print_help(prog: str = "prai serve") -> None:
    """Print `prai serve --help` in typer's style (the flags of :func:`_documented`)."""
    shadow = typer.Typer(add_completion=False, rich_markup_mode="rich")
    shadow.command("serve", options_metavar=USAGE_OPTIONS,
                   context_settings={"help_option_names": ["-h", "--help"]})(_documented)
    typer.main.get_command(shadow).main(["--help"], prog_name=prog, standalone_mode=False)


def register(app: typer.Typer) -> None:
    @app.command(
        "serve",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
        options_metavar=USAGE_OPTIONS,
    )
    def serve(ctx: typer.Context) -> None:
        """Serve a local model directory with vLLM (same flags as `vllm serve`)."""
        args = list(ctx.args)
        if any(a in ("-h", "--help") for a in args):
            print_help()
            raise typer.Exit(0)
        from prai.engine.serve import serve_main

        raise typer.Exit(serve_main(args))
