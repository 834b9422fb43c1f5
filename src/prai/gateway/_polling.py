"""A table held in memory and reloaded when the database's change counter moves.

Used by the key cache (:mod:`prai.gateway.auth`) and the alias table
(:mod:`prai.gateway.aliases`): requests never touch the database; a background task polls
a ``prai_meta`` counter every ``refresh_s`` seconds and reloads on change.
"""

from __future__ import annotations

import asyncio
import contextlib


class PolledTable:
    """Subclasses implement :meth:`load` (blocking; True when it reloaded)."""

    def __init__(self, *, refresh_s: float) -> None:
        self.refresh_s = refresh_s
        self._task: asyncio.Task[None] | None = None

    def load(self) -> bool:
        raise NotImplementedError

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            # A database outage keeps the last known table; the next poll retries.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.load)

    def start(self) -> None:
        """Load once and start polling (call inside the running event loop)."""
        self.load()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


__all__ = ["PolledTable"]
