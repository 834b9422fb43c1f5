"""A time budget for one scan: detectors call :meth:`Deadline.check` in their loops."""

from __future__ import annotations

import time

from prai.errors import GuardTimeExceeded


class Deadline:
    """Raises once ``perf_counter()`` passes ``at`` (checked every 32nd call: cheap).

    Args:
        at: ``time.perf_counter()`` value after which scanning stops; None = no limit.
        limit_s / chars: for the message (the configured limit and the text's size).
    Raises:
        GuardTimeExceeded: from :meth:`check` once the time is up (HTTP 413).
    """

    __slots__ = ("at", "calls", "chars", "limit_s")

    def __init__(self, at: float | None = None, *, limit_s: float = 0.0, chars: int = 0) -> None:
        self.at = at
        self.limit_s = limit_s
        self.chars = chars
        self.calls = 0

    @classmethod
    def after(cls, seconds: float, chars: int = 0) -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(time.perf_counter() + seconds, limit_s=seconds, chars=chars)

    def check(self) -> None:
        """Raise when the time is up (looks at the clock every 32nd call)."""
        if self.at is None:
            return
        self.calls += 1
        if self.calls & 31 == 0:
            self.check_now()

    def check_now(self) -> None:
        """Raise when the time is up (looks at the clock now)."""
        if self.at is not None and time.perf_counter() > self.at:
            raise GuardTimeExceeded(
                f"checking the prompt ({self.chars} characters) took longer than "
                f"guard.max_scan_s = {self.limit_s:g} s"
            )


#: No limit (``prai guard scan``, the detector server, tests).
UNLIMITED = Deadline()

__all__ = ["UNLIMITED", "Deadline"]
