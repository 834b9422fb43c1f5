"""The gateway's in-memory alias table (model lifecycle: :mod:`prai.db.routes`).

Clients put an alias in ``model`` (``kansai``); the gateway sends the request to the
alias's current version (``kansai@v2``), or to its canary for ``canary_percent`` % of API
keys (sticky per key: :func:`prai.db.routes.canary_bucket`). Like the key cache,
requests never hit the database: the table is reloaded when the store's
``models_version`` counter moves (polled every ``refresh_s`` seconds), so a promotion
reaches every gateway process within ``refresh_s``.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy.engine import Engine

from prai.db import routes
from prai.db.routes import Route, Target
from prai.gateway._polling import PolledTable


class AliasCache(PolledTable):
    """Alias → :class:`Route` and served name → :class:`Target`, refreshed by polling."""

    def __init__(self, engine: Engine, *, refresh_s: float = 1.0) -> None:
        super().__init__(refresh_s=refresh_s)
        self.engine = engine
        self.routes: dict[str, Route] = {}
        self.versions: dict[str, Target] = {}
        self._version = -1
        self._lock = asyncio.Lock()
        self._last_forced = 0.0

    def load(self) -> bool:
        """Reload when the counter moved (blocking; runs in a thread). True when reloaded."""
        version = routes.models_version(self.engine)
        if version == self._version:
            return False
        self.routes, self.versions = routes.routing_table(self.engine)
        self._version = version
        return True

    async def refresh_now(self) -> bool:
        """Reload at once (at most every 0.2 s; used when an upstream no longer knows a
        version, i.e. a promotion happened since the last poll). True when routes changed."""
        async with self._lock:
            if time.monotonic() - self._last_forced < 0.2:
                return False
            self._last_forced = time.monotonic()
            try:
                return await asyncio.to_thread(self.load)
            except Exception:
                return False

    def resolve(self, model: str, key_id: str) -> Target | None:
        """The version a request for ``model`` by ``key_id`` goes to; None when ``model``
        is neither an alias nor a registered served name (route it as it is)."""
        route = self.routes.get(model)
        if route is None:
            return self.versions.get(model)
        if route.canary is not None and routes.canary_bucket(model, key_id) < route.canary_percent:
            return route.canary
        return route.current


__all__ = ["AliasCache"]
