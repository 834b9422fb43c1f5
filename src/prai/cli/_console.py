"""The rich consoles every command prints with.

On a terminal rich wraps at the terminal's width. Without one (CI logs, pipes, ``| tee``)
nothing wraps: ``soft_wrap`` keeps long lines whole and tables get a width of
:data:`PLAIN_WIDTH` columns, so full paths and digests stay on one line and can be copied
(rich's default is 80 columns, which cuts paths and digests mid-word).
"""

from __future__ import annotations

import sys

from rich.console import Console

PLAIN_WIDTH = 1000  # columns when not on a terminal: wide enough for any path or digest


def make_console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr) that never wraps mid-word without a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=None if tty else PLAIN_WIDTH)


__all__ = ["PLAIN_WIDTH", "make_console"]
