"""Entry point of the `prai` console script: wires the command groups, handles errors.

Each command group lives in its own module and is registered below; commands import
their library lazily so `prai --help` and `prai bundle verify` start fast.
"""

from __future__ import annotations

import sys

import click
import typer

from prai import __version__
from prai.errors import PraiError

app = typer.Typer(
    name="prai",
    help="PrAI — Private AI Kitchen: serve LLMs in closed networks (閉域網) with vLLM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"prai {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """PrAI — Private AI Kitchen."""


def _register() -> None:
    # One line per command module; each module exposes `register(app)`.
    from prai.cli import bench, bundle, demo, doctor, eval, gateway, guard, render, serve, up

    for module in (serve, demo, gateway, render, bundle, guard, up, doctor, bench, eval):
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one message and a hint, never a traceback."""
    from prai.cli._errors import report_and_exit

    try:
        rv = app(args=argv, standalone_mode=False)
    except PraiError as exc:
        report_and_exit(exc)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    if isinstance(rv, int) and rv != 0:
        sys.exit(rv)


if __name__ == "__main__":
    main()
