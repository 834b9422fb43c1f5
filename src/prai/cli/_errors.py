"""The CLI's one error handler: a PraiError becomes two lines and an exit code."""

from __future__ import annotations

import sys
import traceback
from typing import NoReturn

from rich.console import Console

from prai.errors import PraiError
from prai.settings import get_settings

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def report_and_exit(exc: PraiError) -> NoReturn:
    """Print ``error: ...`` and ``hint: ...`` to stderr and exit with ``exc.exit_code``.

    The traceback is printed only with PRAI_DEBUG=1.
    """
    if get_settings().debug:
        traceback.print_exception(exc)
    for i, line in enumerate(str(exc).splitlines() or [type(exc).__name__]):
        err_console.print(
            ("error: " if i == 0 else "       ") + line, markup=False, style="bold red" if i == 0 else "red"
        )
    if exc.hint:
        err_console.print(f"hint: {exc.hint}", markup=False, style="yellow")
    sys.exit(exc.exit_code)


def report_os_error(exc: OSError) -> NoReturn:
    """A file-system or network error from the user's environment: one line, exit 5."""
    if get_settings().debug:
        traceback.print_exception(exc)
    where = f": {exc.filename}" if exc.filename else ""
    reason = exc.strerror or type(exc).__name__
    err_console.print(f"error: {reason}{where}", markup=False, style="bold red")
    err_console.print(
        "hint: check that the path exists, is a directory where one is expected, and is writable "
        "(PRAI_CACHE_DIR, -o)",
        markup=False,
        style="yellow",
    )
    sys.exit(5)


def report_usage_error(exc: BaseException, command_path: str = "prai") -> NoReturn:
    """A command-line usage error (click/typer): one ``error:`` line with click's message
    and a ``hint:`` naming the command's --help; exit 2 (click's own code).

    ``command_path``: the command the arguments name (``prai usage``). Click raises some
    errors (an option missing its value) before the command's context exists and then
    attaches its parent's (``prai``): the deeper of the two is named."""
    fmt = getattr(exc, "format_message", None)
    if not callable(fmt):
        err_console.print("error: aborted", markup=False, style="bold red")
        sys.exit(1)
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or "prai"
    if len(command_path.split()) > len(command.split()):
        command = command_path
    message = " ".join(str(fmt()).split())  # one line
    if message:  # empty when the help was printed (a group called without a command)
        err_console.print(f"error: {message}", markup=False, style="bold red")
        err_console.print(f"hint: see `{command} --help`", markup=False, style="yellow")
    code = getattr(exc, "exit_code", 2)
    sys.exit(code if isinstance(code, int) else 2)
