"""Local leases of Redis-shared limits (``ratelimit.lease_s``): two limiters standing for
two gateway processes on one real Redis admit most requests without a round trip and
never pass a limit; unused allowance and usage go back to Redis."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis as syncredis

from prai.config.gateway import GatewayConfig
from prai.errors import BudgetExceeded, RateLimited
from prai.gateway.budgets import BudgetClock
from prai.gateway.ratelimit import Charge, Limiter
from tests.gateway._gwutil import FakeUpstream, Gateway, RedisServer, http_json


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


# --- through real gateway processes ------------------------------------------------------

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


def _lease_cfg(tenant: str, upstream: str, redis: str, db: Path, i: int, budget: int) -> dict[str, Any]:
    return {
        "upstreams": [{"name": "main", "base_urls": [upstream]}],
        "tenants": [{"name": tenant, "projects": [{
            "name": "p",
            "limits": {"max_tokens_per_request": 16, "requests_per_minute": 100_000, "concurrent_requests": 640},
            "budget": {"tokens_per_day": budget, "soft_percent": 100},
        }]}],
        "ratelimit": {"url": redis, "lease_s": 0.5, "timeout_s": 0.3},
        "storage": {"url": f"sqlite:///{db}", "journal_dir": str(db.parent / f"journal{i}"), "flush_interval_s": 0.05},
    }


def test_budget_shared_by_two_gateways_with_leases(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """Two gateway processes with leases share a day budget: never overshot by more than
    one request's tokens, far fewer Redis script calls than requests, and once both
    processes stop, Redis holds exactly the tokens the clients were answered with."""
    redis = RedisServer(tmp_path / "redis").start()
    tenant = "e" + uuid.uuid4().hex[:8]
    limit = 64 * 150  # budget leases of 150 tokens: about 4 requests each
    try:
        gws = [make_gateway(_lease_cfg(tenant, fake_upstream.url, redis.url, tmp_path / "gw.db", i, limit),
                            sub=f"g{i}").start() for i in range(2)]
        key = gws[0].key(tenant, "p")
        r = syncredis.Redis.from_url(redis.url)
        calls0 = _script_calls(r)
        lock = threading.Lock()
        tokens_ok, answered = [0], [0]

        def client(n: int) -> None:
            i = n
            while True:
                i += 1
                st, _, body = http_json(gws[i % 2].v1("/chat/completions"), CHAT, key=key)
                with lock:
                    if st == 200:
                        tokens_ok[0] += body["usage"]["total_tokens"]
                        answered[0] += 1
                        continue
                    assert st == 429 and body["error"]["type"] == "budget_exceeded", (st, body)
                    if "budget exceeded" in body["error"]["message"]:
                        return

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        calls = _script_calls(r) - calls0
        one_request = 15  # the fake upstream's usage per answer
        assert limit <= tokens_ok[0] <= limit + one_request, tokens_ok[0]
        # without leases every answered request costs two script calls (admit, settle)
        assert calls < answered[0], (calls, answered[0])
        for g in gws:
            g.stop()  # gives the leases back
        day = BudgetClock().periods()[0].label
        assert int(r.hget(f"prai:{{{tenant}}}:b:p:p:d:{day}", "t") or 0) == tokens_ok[0]
        assert r.zcard(f"prai:{{{tenant}}}:cc:{tenant}/p") == 0
    finally:
        redis.stop()


def test_redis_stopped_with_leases_held(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    """With leases, Redis stopping is noticed within ``lease_s``: then 503s, then recovery."""
    redis = RedisServer(tmp_path / "redis").start()
    tenant = "s" + uuid.uuid4().hex[:8]
    try:
        gw = make_gateway(_lease_cfg(tenant, fake_upstream.url, redis.url, tmp_path / "gw.db", 0, 10**9)).start()
        key = gw.key(tenant, "p")
        for _ in range(20):
            assert http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] == 200
        redis.stop()
        t0 = time.monotonic()
        while http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] == 200:
            assert time.monotonic() - t0 < 0.5 + 1.0, "admitted from a lease after lease_s"
        assert [http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] for _ in range(3)] == [503] * 3
        redis.start()
        deadline = time.monotonic() + 15
        while http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] != 200:
            assert time.monotonic() < deadline, "no recovery"
            time.sleep(0.1)
    finally:
        redis.stop()
    gw.stop()
    assert "Traceback" not in gw.output()


def _script_calls(r: syncredis.Redis) -> int:
    stats = r.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
