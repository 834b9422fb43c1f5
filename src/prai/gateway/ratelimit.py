"""Requests/min, tokens/min and concurrency limits per project and per key.

Counters are sliding-window counters: in this process for ``memory://`` (see
:class:`_LocalWindows`), or the ``limits`` library's sliding-window-counter strategy in
Redis (several processes share the same counters, so limits do not multiply with the
replica count). Concurrency is a counter in memory, or in Redis a sorted
set of in-flight request ids (stale entries older than ``stale_after_s`` are dropped, so a
killed gateway cannot leak slots forever).

Tokens per minute: the prompt is estimated before the call (:func:`estimate_tokens`) and
charged; after the call the difference to the upstream's real usage (prompt + completion)
is charged. The estimate is deliberately low (about 4 characters per token for ASCII,
1 per token otherwise), so corrections are almost always positive; an over-estimate is not
refunded.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from prai.config.gateway import LimitsConfig
from prai.errors import RateLimited


def estimate_tokens(text: str) -> int:
    """A low estimate of the token count of ``text``: ASCII chars/4 + non-ASCII chars."""
    ascii_n = sum(1 for c in text if c < "\x80")
    return (ascii_n + 3) // 4 + (len(text) - ascii_n)


class _LocalWindows:
    """Sliding-window counters in this process, with the algorithm of ``limits``'
    ``SlidingWindowCounterRateLimiter`` (previous window weighted by the part of it still
    inside the sliding window, plus the current window).

    Used for ``memory://``: measured here, ``limits``' async MemoryStorage costs about 15 µs
    per hit, and a request with project and key limits needs six (requests, tokens, token
    correction, twice); this costs about 1 µs. Redis keeps using ``limits``.
    """

    def __init__(self) -> None:
        self._w: dict[tuple[str, int, str], list[float]] = {}  # key -> [start, prev, cur]

    def _roll(self, item: RateLimitItem, scope: str, now: float) -> tuple[list[float], float]:
        period = float(item.get_expiry())
        start = now - (now % period)
        key = (item.namespace or "", item.amount, scope)
        w = self._w.get(key)
        if w is None:
            w = self._w[key] = [start, 0.0, 0.0]
        elif w[0] != start:
            w[1] = w[2] if start - w[0] == period else 0.0
            w[2], w[0] = 0.0, start
        return w, period

    @staticmethod
    def _weighted(w: list[float], period: float, now: float) -> float:
        return w[1] * (period - (now - w[0])) / period + w[2]

    def hit(self, item: RateLimitItem, scope: str, cost: int) -> bool:
        now = time.time()
        w, period = self._roll(item, scope, now)
        if self._weighted(w, period, now) + cost > item.amount:
            return False
        w[2] += cost
        return True

    def force(self, item: RateLimitItem, scope: str, cost: int) -> None:
        w, _ = self._roll(item, scope, time.time())
        w[2] += cost

    def stats(self, item: RateLimitItem, scope: str, cost: int) -> tuple[float, int]:
        """(seconds until ``cost`` more units fit, units remaining now)."""
        now = time.time()
        w, period = self._roll(item, scope, now)
        used = self._weighted(w, period, now)
        remaining = max(0, int(item.amount - used))
        need = used + cost - item.amount
        if need <= 0:
            return 0.0, remaining
        to_end = w[0] + period - now
        if w[1] > 0 and need <= w[1] * to_end / period:
            return need * period / w[1], remaining  # the previous window slides out linearly
        allowed = item.amount - cost  # after the roll: cur becomes prev and slides out
        if allowed < 0:
            return to_end + period, remaining
        extra = period * (1 - allowed / w[2]) if w[2] > allowed else 0.0
        return to_end + extra, remaining


@dataclass
class Admission:
    """What a request was charged; pass it back to :meth:`Limiter.release`."""

    token_scopes: list[tuple[RateLimitItem, str]] = field(default_factory=list)
    charged_tokens: int = 0
    concurrency: list[tuple[str, str]] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class Limiter:
    """Limit checks for the gateway.

    Args:
        url: ``memory://`` or ``redis://host:port/db`` (``rediss://`` for TLS).
        stale_after_s: seconds after which a Redis concurrency slot counts as leaked.
    """

    def __init__(self, url: str = "memory://", *, stale_after_s: float = 900.0) -> None:
        self.url = url
        self.stale_after_s = stale_after_s
        self._local: _LocalWindows | None = None
        if url.startswith("memory://"):
            storage: Any = storage_from_string("async+memory://")
            self._local = _LocalWindows()
            self._redis: Any = None
        else:
            storage = storage_from_string("async+" + url, implementation="redispy")
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(url)
        self.storage = storage
        self.strategy = SlidingWindowCounterRateLimiter(storage)
        self._items: dict[tuple[str, int], RateLimitItem] = {}
        self._inflight: dict[str, int] = {}

    def _item(self, kind: str, per_minute: int) -> RateLimitItem:
        key = (kind, per_minute)
        item = self._items.get(key)
        if item is None:
            item = self._items[key] = RateLimitItemPerMinute(per_minute, namespace=f"prai-{kind}")
        return item

    async def _hit(self, item: RateLimitItem, scope: str, cost: int) -> bool:
        if self._local is not None:
            return self._local.hit(item, scope, cost)
        return await self.strategy.hit(item, scope, cost=cost)

    async def _wait_s(self, item: RateLimitItem, scope: str, kind: str, cost: int) -> tuple[float, int]:
        if self._local is not None:
            wait_s, remaining = self._local.stats(item, scope, cost)
            return max(wait_s, 0.001), remaining
        stats = await self.strategy.get_window_stats(item, scope)
        wait_s = max(stats.reset_time - time.time(), 0.001)
        if kind == "tokens" and cost > 1:
            # Time until enough of the window slides out for `cost` units (linear refill).
            missing = max(cost - stats.remaining, 1)
            wait_s = max(wait_s, 60.0 * missing / item.amount)
        return wait_s, stats.remaining

    async def _reject(self, item: RateLimitItem, scope: str, what: str, kind: str, cost: int) -> RateLimited:
        wait_s, remaining = await self._wait_s(item, scope, kind, cost)
        exc = RateLimited(
            f"rate limit reached: {item.amount} {kind} per minute for {what}",
            retry_after_s=wait_s,
        )
        exc.headers = [  # type: ignore[attr-defined]
            (b"retry-after", str(math.ceil(wait_s)).encode()),
            (f"x-ratelimit-limit-{kind}".encode(), str(item.amount).encode()),
            (f"x-ratelimit-remaining-{kind}".encode(), str(remaining).encode()),
            (f"x-ratelimit-reset-{kind}".encode(), f"{wait_s:.3f}s".encode()),
        ]
        return exc

    async def admit(
        self,
        *,
        project_scope: str,
        key_scope: str,
        project_limits: LimitsConfig,
        key_limits: LimitsConfig,
        prompt_tokens: int,
    ) -> Admission:
        """Charge one request and its estimated prompt tokens, take a concurrency slot.

        Raises:
            RateLimited: a limit is reached (HTTP 429); carries ``headers``
                (``retry-after``, ``x-ratelimit-*``). Nothing stays charged for concurrency.
        """
        adm = Admission()
        scopes = ((project_scope, "project", project_limits), (key_scope, "key", key_limits))
        try:
            for scope, what, lim in scopes:
                if lim.requests_per_minute:
                    item = self._item("requests", lim.requests_per_minute)
                    if not await self._hit(item, scope, 1):
                        raise await self._reject(item, scope, what, "requests", 1)
                if lim.tokens_per_minute:
                    item = self._item("tokens", lim.tokens_per_minute)
                    cost = max(prompt_tokens, 1)
                    if not await self._hit(item, scope, cost):
                        raise await self._reject(item, scope, what, "tokens", cost)
                    adm.token_scopes.append((item, scope))
            adm.charged_tokens = max(prompt_tokens, 1)
            for scope, what, lim in scopes:
                if lim.concurrent_requests:
                    slot = await self._take_slot(scope, lim.concurrent_requests)
                    if slot is None:
                        exc = RateLimited(
                            f"too many concurrent requests: {lim.concurrent_requests} allowed for {what}",
                            retry_after_s=1.0,
                            hint="wait for your running requests to finish, or send fewer at once",
                        )
                        exc.headers = [(b"retry-after", b"1")]  # type: ignore[attr-defined]
                        raise exc
                    adm.concurrency.append((scope, slot))
        except BaseException:
            await self.release(adm)
            raise
        return adm

    async def _take_slot(self, scope: str, limit: int) -> str | None:
        if self._redis is None:
            n = self._inflight.get(scope, 0)
            if n >= limit:
                return None
            self._inflight[scope] = n + 1
            return "m"
        key, member, now = f"prai-conc:{scope}", uuid.uuid4().hex, time.time()
        pipe = self._redis.pipeline(transaction=True)
        pipe.zremrangebyscore(key, 0, now - self.stale_after_s)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.expire(key, int(self.stale_after_s))
        res = await pipe.execute()
        if int(res[2]) > limit:
            await self._redis.zrem(key, member)
            return None
        return member

    async def release(self, adm: Admission) -> None:
        """Give back the concurrency slots taken by :meth:`admit` (idempotent)."""
        slots, adm.concurrency = adm.concurrency, []
        for scope, member in slots:
            if self._redis is None:
                self._inflight[scope] = max(self._inflight.get(scope, 1) - 1, 0)
            else:
                await self._redis.zrem(f"prai-conc:{scope}", member)

    async def correct_tokens(self, adm: Admission, real_tokens: int) -> None:
        """Charge the difference between real usage and the pre-call estimate."""
        delta = real_tokens - adm.charged_tokens
        if delta <= 0:
            return
        adm.charged_tokens = real_tokens
        for item, scope in adm.token_scopes:
            if self._local is not None:
                self._local.force(item, scope, delta)
                continue
            # Charged even past the limit (the tokens were used): the storage call with an
            # unbounded limit, since the strategy's hit() refuses to go over.
            await self.storage.acquire_sliding_window_entry(item.key_for(scope), 2**62, item.get_expiry(), delta)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


__all__ = ["Admission", "Limiter", "estimate_tokens"]
