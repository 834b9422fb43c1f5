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


def report_usage_error(exc: BaseException) -> NoReturn:
    """A command-line usage error (click/typer): its own message, exit 2."""
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        err_console.print("aborted", markup=False)
    code = getattr(exc, "exit_code", 1)
    sys.exit(code if isinstance(code, int) else 2)
