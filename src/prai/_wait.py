"""Waiting for something to become true (a server to answer, a record to appear)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    ready: Callable[[], T],
    *,
    timeout_s: float,
    interval_s: float = 0.5,
    on_tick: Callable[[float], None] | None = None,
) -> T | None:
    """Call ``ready()`` until it returns a truthy value, and return that value.

    ``ready`` runs at least once, then every ``interval_s`` seconds; it may raise to stop
    waiting (a process that exited). Returns None when ``timeout_s`` seconds have passed:
    the caller raises its own error, with its own hint.

    Args:
        ready: the check; its truthy result is returned.
        timeout_s: seconds to keep trying.
        interval_s: seconds between tries.
        on_tick: called with the seconds waited so far after each failed try (progress).
    """
    start = time.monotonic()
    while True:
        result = ready()
        if result:
            return result
        elapsed = time.monotonic() - start
        if elapsed >= timeout_s:
            return None
        if on_tick is not None:
            on_tick(elapsed)
        time.sleep(interval_s)


__all__ = ["wait_until"]
