"""Ctrl-C on any command: say what was done and how to go on, exit 130.

A long command runs its work inside :func:`on_interrupt`, which turns Ctrl-C into the
report below (typer would otherwise turn it into a silent exit 130); commands without one
get the generic report from ``prai.cli.main``. :func:`report_interrupt` prints

    interrupted: <what was done>
    hint: <how to resume, or that nothing was changed>

on stderr and exits with 130 (128 + SIGINT, as shells report it). Commands that
registered nothing get a generic line. Cleaning up what cannot be resumed is each
command's own ``finally`` (it runs before the handler).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn

EXIT_INTERRUPTED = 130

_done: Callable[[], str] | None = None
_resume: str | None = None


@contextmanager
def on_interrupt(done: Callable[[], str], resume: str) -> Iterator[None]:
    """While the block runs, Ctrl-C reports ``done()`` and the ``resume`` hint.

    Args:
        done: called after the interrupt: what was finished so far (one line).
        resume: how to continue, e.g. ``run the same command again: it resumes``.
    """
    global _done, _resume
    before = (_done, _resume)
    _done, _resume = done, resume
    try:
        yield
    except KeyboardInterrupt:
        report_interrupt()
    finally:
        _done, _resume = before


def report_interrupt(command: str | None = None) -> NoReturn:
    """Print what was done and how to resume, then exit 130 (SystemExit passes through typer)."""
    what = ""
    if _done is not None:
        try:
            what = _done()
        except Exception:  # the report must never fail on Ctrl-C
            what = ""
    cmd = f"prai {command_words(sys.argv[1:]) if command is None else command}".strip()
    print(f"interrupted ({cmd}): {what}" if what else f"interrupted ({cmd})", file=sys.stderr, flush=True)
    hint = _resume or "run the same command again to start over"
    print(f"hint: {hint}", file=sys.stderr, flush=True)
    sys.exit(EXIT_INTERRUPTED)


def command_words(args: list[str]) -> str:
    """``bundle load`` from the arguments: the command's words, without options or values."""
    words = []
    for a in args[:2]:
        if a.startswith("-") or "/" in a or "." in a:
            break
        words.append(a)
    return " ".join(words)


__all__ = ["EXIT_INTERRUPTED", "command_words", "on_interrupt", "report_interrupt"]
