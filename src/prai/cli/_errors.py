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
