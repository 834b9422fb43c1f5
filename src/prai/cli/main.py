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
    from prai.cli import admin, bench, bundle, demo, doctor, eval, gateway, guard, model, render, serve, up

    for module in (serve, demo, gateway, render, bundle, guard, up, doctor, bench, eval, model, admin):
        module.register(app)


def _summary(text: str) -> str:
    """The first paragraph of a docstring as one line (typer's rich help keeps its line breaks)."""
    import inspect

    return " ".join(inspect.cleandoc(text).split("\n\n")[0].split())


def _whole_summaries(group: typer.Typer) -> None:
    """Give every command and group a one-line ``short_help`` from its docstring/help, so
    the command lists of ``--help`` read whole instead of breaking where the source does."""
    for cmd in group.registered_commands:
        doc = cmd.help or (cmd.callback.__doc__ if cmd.callback else None)
        if not cmd.short_help and doc:
            cmd.short_help = _summary(doc)
    for sub in group.registered_groups:
        inner = sub.typer_instance
        if inner is None:
            continue
        cb = inner.registered_callback.callback if inner.registered_callback else None
        doc = sub.help or inner.info.help or (cb.__doc__ if cb else None)
        if not sub.short_help and not inner.info.short_help and isinstance(doc, str):
            sub.short_help = _summary(doc)
        _whole_summaries(inner)


_register()
_whole_summaries(app)


def _command_path(args: list[str]) -> str:
    """``prai`` and the (sub)command words that ``args`` start with (``prai keys list``):
    the command a usage error belongs to when click names only its parent (``--by``
    without its value)."""
    cmd: object = typer.main.get_command(app)  # typer's own click (>= 0.26) or click's
    words = ["prai"]
    for arg in args:
        if arg.startswith("-"):  # the groups' own options are flags (--version, --help)
            continue
        sub = (getattr(cmd, "commands", None) or {}).get(arg)
        if sub is None:
            break
        words.append(arg)
        cmd = sub
    return " ".join(words)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors print one message and a hint, never a traceback.

    Exit codes: 0 success; 1 a check failed; 2 usage (bad value, missing path, unknown
    option); 5 environment (permission denied, busy port, engine missing); 8 nothing was
    checked (doctor); 130 interrupted (Ctrl-C); others per command (README, "Development"; prai/errors.py).
    """
    from prai.cli._errors import report_and_exit, report_os_error, report_usage_error
    from prai.cli._interrupt import command_words, report_interrupt

    args = sys.argv[1:] if argv is None else argv
    try:
        rv = app(args=args, prog_name="prai", standalone_mode=False)
    except PraiError as exc:
        report_and_exit(exc)
    except KeyboardInterrupt:
        report_interrupt(command_words(args))
    except OSError as exc:
        report_os_error(exc)
    except Exception as exc:
        # Usage errors come from click or from typer's vendored copy of it (typer >= 0.26):
        # both carry `show()` and `exit_code`.
        if (hasattr(exc, "show") and hasattr(exc, "exit_code")) or isinstance(exc, click.exceptions.Abort):
            report_usage_error(exc, _command_path(args))
        raise
    if rv == 130:  # typer turns Ctrl-C outside `on_interrupt` into a silent 130
        report_interrupt(command_words(args))
    if isinstance(rv, int) and rv != 0:
        sys.exit(rv)


if __name__ == "__main__":
    main()
