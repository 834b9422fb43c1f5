"""Progress of long byte work (hashing, copying, uploading) for every command.

:class:`ByteProgress` is a ``ProgressSink`` (``start(description, total_bytes)``,
``advance(n_bytes)`` from any thread, as :mod:`prai.bundle` calls it). On a terminal it
draws rich's bar (bytes, bytes/s, ETA) on stderr; without one (CI logs, ``| tee``) it
prints a plain line when a phase starts, every ``interval_s`` seconds
(PRAI_PROGRESS_INTERVAL_S, default 10) and when it ends, e.g.

    verifying: 412.0 MiB of 887.0 MiB (46%), 85.3 MiB/s, ETA 6 s

With ``enabled=False`` (``--json``) it prints nothing. :meth:`ByteProgress.summary` says
what was done so far (for the Ctrl-C message).
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import Any, TextIO


def human_bytes(n: float) -> str:
    """``1536`` → ``1.5 KiB`` (binary units, one decimal; bytes as an integer)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def human_seconds(s: float) -> str:
    """``75`` → ``1 min 15 s``; under a minute ``12 s``."""
    s = max(0.0, s)
    if s < 60:
        return f"{s:.0f} s"
    m, sec = divmod(int(s), 60)
    return f"{m} min {sec} s" if m < 60 else f"{m // 60} h {m % 60} min"


class _Phase:
    def __init__(self, description: str, total: int) -> None:
        self.description = description
        self.total = max(total, 0)
        self.done = 0
        self.started = time.monotonic()

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = ""
        if rate > 0 and self.total > self.done:
            eta = f", ETA {human_seconds((self.total - self.done) / rate)}"
        return (f"{self.description}: {human_bytes(self.done)} of {human_bytes(self.total)}{pct}, "
                f"{human_bytes(rate)}/s{eta}")


class ByteProgress:
    """A ProgressSink drawn on a terminal or printed as periodic plain lines.

    Args:
        enabled: False prints nothing (``--json``).
        interval_s: seconds between plain lines when not on a terminal.
        stream: where lines go (default stderr).
        tty: force terminal (True) or plain (False) mode; default: ``stream.isatty()``.
    """

    def __init__(self, enabled: bool = True, *, interval_s: float | None = None,
                 stream: TextIO | None = None, tty: bool | None = None) -> None:
        if interval_s is None:
            from prai.settings import get_settings

            interval_s = get_settings().progress_interval_s
        self.enabled = enabled
        self.interval_s = interval_s
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._lock = threading.Lock()
        self._phase: _Phase | None = None
        self._finished: list[str] = []
        self._last_print = 0.0
        self._bar: Any = None
        self._task: Any = None
        #: set on Ctrl-C: worker threads stop at their next advance (KeyboardInterrupt)
        self.cancelled = threading.Event()

    def __enter__(self) -> ByteProgress:
        if self.enabled and self.tty:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                TimeRemainingColumn(), console=Console(file=self.stream, highlight=False), transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
            elif self.enabled and self._phase is not None and t is None:
                self._end_phase()

    def start(self, description: str, total_bytes: int) -> None:
        """A new phase of ``total_bytes`` bytes begins (the previous one is complete)."""
        with self._lock:
            if self._phase is not None:
                self._end_phase()
            self._phase = _Phase(description, total_bytes)
            if not self.enabled:
                return
            if self._bar is not None:
                if self._task is not None:
                    self._bar.update(self._task, completed=self._bar.tasks[self._task].total or 0)
                self._task = self._bar.add_task(description, total=max(total_bytes, 1))
            else:
                # No line until the interval has passed: work that ends (or is refused) sooner
                # prints nothing, so a refusal stays one line (issue 19).
                self._last_print = self._phase.started

    def advance(self, n_bytes: int) -> None:
        """``n_bytes`` more bytes were processed (thread-safe).

        Raises:
            KeyboardInterrupt: :attr:`cancelled` is set (Ctrl-C): the worker stops here.
        """
        if self.cancelled.is_set():
            raise KeyboardInterrupt
        with self._lock:
            if self._phase is None:
                return
            self._phase.done += n_bytes
            if not self.enabled:
                return
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task, n_bytes)
            elif time.monotonic() - self._last_print >= self.interval_s:
                self._print(self._phase.line())

    def summary(self) -> str:
        """What was done so far, e.g. ``verifying done (887.0 MiB); copying: 12.0 MiB of 887.0 MiB``."""
        with self._lock:
            parts = list(self._finished)
            if self._phase is not None:
                p = self._phase
                parts.append(f"{p.description}: {human_bytes(p.done)} of {human_bytes(p.total)}")
            return "; ".join(parts) or "nothing yet"

    def _end_phase(self) -> None:
        p = self._phase
        assert p is not None
        self._finished.append(f"{p.description} done ({human_bytes(p.total)})")
        if self.enabled and self._bar is None and self._last_print > p.started:
            elapsed = time.monotonic() - p.started
            self._print(f"{p.description}: done, {human_bytes(p.total)} in {elapsed:.1f} s")
        self._phase = None

    def _print(self, line: str) -> None:
        self._last_print = time.monotonic()
        print(line, file=self.stream, flush=True)


__all__ = ["ByteProgress", "human_bytes", "human_seconds"]
