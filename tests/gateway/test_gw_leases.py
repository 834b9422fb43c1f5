"""Local leases of Redis-shared limits (``ratelimit.lease_s``): two limiters standing for
two gateway processes on one real Redis admit most requests without a round trip and
never pass a limit; unused allowance and usage go back to Redis."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis as syncredis

from prai.config.gateway import GatewayConfig
from prai.errors import BudgetExceeded, RateLimited
from prai.gateway.ratelimit import Charge, Limiter


def _utc(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


def _limiter(url: str, tenant: str, project: dict[str, Any], now: list[float], lease_s: float = 5.0) -> Limiter:
    cfg = GatewayConfig.model_validate(
        {
            "tenants": [{"name": tenant, "projects": [{"name": "p", **project}]}],
            "ratelimit": {"url": url, "lease_s": lease_s},
        }
    )
    lim = Limiter(cfg)
    lim.clock.now = lambda: now[0]
    return lim


def _tenant() -> str:
    return "l" + uuid.uuid4().hex[:10]


async def _admit(lim: Limiter, t: str, key: str = "k", reserve: int = 0, prompt: int = 1) -> Charge:
    ch = await lim.admit(tenant=t, project="p", key_id=key, rid=uuid.uuid4().hex, prompt_tokens=prompt,
                         reserve_tokens=reserve)
    assert ch is not None
    return ch


def test_requests_per_minute_exact_across_two_processes(redis_url: str) -> None:
    """Two processes alternate until both are refused: never more than the limit, and
    once the leases are given back the rest of the minute's allowance is there again."""
    t = _tenant()
    now = [_utc("2026-03-10T03:00:10")]
    limit = 320  # leases of 20 requests
    proj = {"limits": {"requests_per_minute": limit}}
    a, b = _limiter(redis_url, t, proj, now), _limiter(redis_url, t, proj, now)

    async def run() -> tuple[int, int, int]:
        admitted, refused, local = 0, 0, 0
        rng = random.Random(7)
        while refused < 20:
            lim = a if rng.random() < 0.5 else b
            try:
                ch = await _admit(lim, t)
                admitted += 1
                local += ch.lease is not None
                await lim.settle(ch, real_tokens=1)
            except RateLimited:
                refused += 1
            await asyncio.sleep(0.001)  # a lease taken in the background arrives
        assert a.leases is not None and b.leases is not None
        assert a.leases.taken + b.leases.taken >= 2
        await a.close()
        await b.close()  # both leases go back: their unused requests are free again
        c = _limiter(redis_url, t, proj, now, lease_s=0)
        more = 0
        while True:
            try:
                await _admit(c, t)
                more += 1
            except RateLimited:
                break
        await c.close()
        return admitted, more, local

    admitted, more, local = asyncio.run(run())
    assert admitted <= limit
    assert admitted + more == limit  # exact: nothing lost, nothing overshot
    assert local > admitted / 2, (local, admitted)  # most requests admitted without Redis


def test_concurrency_never_passes_its_limit(redis_url: str) -> None:
    t = _tenant()
    now = [_utc("2026-03-10T03:00:10")]
    limit = 64  # leases of 4 slots
    proj = {"limits": {"concurrent_requests": limit}}
    a, b = _limiter(redis_url, t, proj, now), _limiter(redis_url, t, proj, now)

    async def run() -> None:
        held: list[tuple[Limiter, Charge]] = []
        rng = random.Random(3)
        for _ in range(400):
            lim = a if rng.random() < 0.5 else b
            if held and rng.random() < 0.45:
                owner, ch = held.pop(rng.randrange(len(held)))
                await owner.settle(ch, real_tokens=1)
            else:
                try:
                    ch = await _admit(lim, t)
                    held.append((lim, ch))
                except RateLimited:
                    pass
            await asyncio.sleep(0)
            assert len(held) <= limit
        assert a.leases is not None and a.leases.taken >= 1
        for owner, ch in held:
            await owner.settle(ch, real_tokens=1)
        await a.close()
        await b.close()
        members = syncredis.Redis.from_url(redis_url).zcard(f"prai:{{{t}}}:cc:{t}/p")
        assert members == 0  # every slot, leased or not, was freed

    asyncio.run(run())


def test_budget_shared_never_overshot_and_usage_reaches_redis(redis_url: str) -> None:
    """Budget leases: a shared day budget is never overshot by more than one request's
    tokens, and once the leases are back Redis holds exactly the usage charged."""
    t = _tenant()
    now = [_utc("2026-03-10T03:00:10")]
    limit = 64 * 200  # leases of 200 tokens
    proj = {"budget": {"tokens_per_day": limit, "soft_percent": 90}}
    a, b = _limiter(redis_url, t, proj, now), _limiter(redis_url, t, proj, now)

    async def run() -> tuple[int, int]:
        rng = random.Random(11)
        used = 0
        running: list[tuple[Limiter, Charge, int]] = []
        done = False
        while not done or running:
            if running and (done or rng.random() < 0.5):
                owner, ch, real = running.pop(rng.randrange(len(running)))
                await owner.settle(ch, real_tokens=real)
                used += real
                continue
            lim = a if rng.random() < 0.5 else b
            real = rng.randrange(5, 40)
            try:
                ch = await _admit(lim, t, reserve=40)
                running.append((lim, ch, real))
            except BudgetExceeded as exc:
                done = "budget exceeded" in exc.message
            await asyncio.sleep(0)
        assert a.leases is not None and b.leases is not None and a.leases.taken + b.leases.taken >= 2
        await a.close()
        await b.close()
        h = syncredis.Redis.from_url(redis_url).hgetall(f"prai:{{{t}}}:b:p:p:d:2026-03-10")
        return used, int(h[b"t"])

    used, in_redis = asyncio.run(run())
    assert limit <= used <= limit + 40
    assert in_redis == used


def test_small_limits_are_not_leased(redis_url: str) -> None:
    """Below a lease's minimum size every request goes to Redis, as without leases."""
    t = _tenant()
    now = [_utc("2026-03-10T03:00:10")]
    lim = _limiter(redis_url, t, {"limits": {"requests_per_minute": 5}}, now)

    async def run() -> None:
        for _ in range(5):
            await _admit(lim, t)
            await asyncio.sleep(0)
        with pytest.raises(RateLimited):
            await _admit(lim, t)
        assert lim.leases is not None and lim.leases.taken == 0
        await lim.close()

    asyncio.run(run())


def test_lease_given_back_when_its_minute_ends(redis_url: str) -> None:
    """A lease is tied to its minute window: the next minute takes a new one, and the
    unused part goes back to the window it was charged to."""
    t = _tenant()
    now = [_utc("2026-03-10T03:00:10")]
    proj = {"limits": {"requests_per_minute": 1600}}  # leases of 100
    lim = _limiter(redis_url, t, proj, now)
    r = syncredis.Redis.from_url(redis_url)
    idx = int(now[0] // 60)
    key = f"prai:{{{t}}}:rl:{t}/p:requests:1600:"

    async def run() -> None:
        for _ in range(10):
            ch = await _admit(lim, t)
            await lim.settle(ch, real_tokens=1)
            await asyncio.sleep(0.01)
        assert lim.leases is not None and lim.leases.taken == 1
        assert int(r.get(key + str(idx)) or 0) > 10  # the lease's 100 are charged
        now[0] += 60
        ch = await _admit(lim, t)  # the old lease retires and goes back
        await lim.settle(ch, real_tokens=1)
        await asyncio.sleep(0.05)
        assert int(r.get(key + str(idx)) or 0) == 10  # exactly what was admitted in that minute
        await lim.close()

    asyncio.run(run())
