"""The limiter and its two stores (memory, real Redis) with an injected clock: atomic
admission, budgets per day and month in Asia/Tokyo, reservations, soft thresholds,
seeding from the audit log, Redis Cluster hash tags."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from prai.config.gateway import GatewayConfig
from prai.errors import BudgetExceeded, RateLimited
from prai.gateway.ratelimit import Limiter
from tests.gateway._gwutil import RedisServer


def _utc(iso: str) -> float:
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


@pytest.fixture(params=["memory", "redis"])
def store_url(request: pytest.FixtureRequest) -> str:
    if request.param == "memory":
        return "memory://"
    return str(request.getfixturevalue("redis_url"))


def _limiter(url: str, tenant: str, project: dict[str, Any], tenant_budget: dict[str, Any] | None = None,
             now: list[float] | None = None, source: Any = None) -> Limiter:
    cfg = GatewayConfig.model_validate(
        {
            "tenants": [{"name": tenant, "projects": [{"name": "p", **project}],
                         **({"budget": tenant_budget} if tenant_budget else {})}],
            "ratelimit": {"url": url},
            "prices": {"*": {"prompt_yen_per_million": 1_000_000, "completion_yen_per_million": 1_000_000}},
        }
    )
    lim = Limiter(cfg, usage_source=source)
    if now is not None:
        lim.clock.now = lambda: now[0]
    return lim


def _tenant() -> str:
    return "t" + uuid.uuid4().hex[:10]  # keeps counters of other runs in the shared Redis apart


def test_admission_is_all_or_nothing(store_url: str) -> None:
    t = _tenant()
    lim = _limiter(store_url, t, {"limits": {"requests_per_minute": 5}, "key_limits": {"requests_per_minute": 2}})

    async def run() -> list[str]:
        out = []
        for key in ("a", "a", "a", "a", "b", "b", "b", "c"):
            try:
                await lim.admit(tenant=t, project="p", key_id=key, rid=uuid.uuid4().hex, prompt_tokens=1)
                out.append(key)
            except RateLimited as exc:  # the message names the key or the project that is full
                assert exc.message in (f"rate limit reached: 2 requests per minute for key {key}",
                                       f"rate limit reached: 5 requests per minute for project {t}/p")
                out.append(f"{key}:429:{'key' if 'for key' in exc.message else 'project'}")
        assert lim.unsettled == 0
        await lim.close()
        return out

    # key a's refusals charge nothing to the project: b and c still get the project's 3 left
    assert asyncio.run(run()) == ["a", "a", "a:429:key", "a:429:key", "b", "b", "b:429:key", "c"]


def test_month_boundary_in_tokyo(store_url: str) -> None:
    t = _tenant()
    now = [_utc("2026-01-31T14:59:00")]  # 23:59 JST on Jan 31
    lim = _limiter(store_url, t, {"budget": {"tokens_per_month": 100, "tokens_per_day": 1000}}, now=now)

    async def one(real: int) -> None:
        ch = await lim.admit(tenant=t, project="p", key_id="k", rid=uuid.uuid4().hex, prompt_tokens=1)
        assert ch is not None
        await lim.settle(ch, real_tokens=real, wait=True)

    async def run() -> None:
        await one(100)
        with pytest.raises(BudgetExceeded) as err:
            await one(1)
        msg = err.value.message
        assert "100 tokens per month" in msg and "month 2026-01" in msg and "Asia/Tokyo" in msg
        assert "resets at 2026-02-01T00:00:00+09:00" in msg
        assert err.value.http_status == 429 and err.value.error_type == "budget_exceeded"
        assert dict(err.value.headers)[b"retry-after"] == b"60"  # type: ignore[attr-defined]
        now[0] = _utc("2026-01-31T14:59:59")  # 23:59:59 JST: still January
        with pytest.raises(BudgetExceeded):
            await one(1)
        now[0] = _utc("2026-01-31T15:00:00")  # 00:00 JST on Feb 1 (still Jan 31 in UTC)
        await one(100)
        with pytest.raises(BudgetExceeded) as err2:
            await one(1)
        assert "month 2026-02" in err2.value.message
        assert lim.unsettled == 0
        await lim.close()

    asyncio.run(run())


def test_reservations_bound_concurrent_requests(store_url: str) -> None:
    t = _tenant()
    now = [_utc("2026-03-10T03:00:00")]
    lim = _limiter(store_url, t, {"budget": {"tokens_per_day": 100}}, now=now)

    async def admit(reserve: int) -> Any:
        return await lim.admit(tenant=t, project="p", key_id="k", rid=uuid.uuid4().hex,
                               prompt_tokens=1, reserve_tokens=reserve)

    async def run() -> None:
        a = await admit(60)
        b = await admit(60)  # 0 used + 60 held < 100: admitted (the overshoot is at most b's)
        with pytest.raises(BudgetExceeded) as err:
            await admit(60)
        assert "held by requests in flight" in err.value.message
        await lim.settle(a, real_tokens=10, wait=True)  # a used 10 of its 60
        c = await admit(60)  # 10 used + 60 held by b
        await lim.settle(b, real_tokens=70, wait=True)
        await lim.settle(c, real_tokens=30, wait=True)
        with pytest.raises(BudgetExceeded) as err:  # 110 used: over by less than one request
            await admit(1)
        assert "budget exceeded" in err.value.message
        assert lim.unsettled == 0
        await lim.close()

    asyncio.run(run())


def test_soft_threshold_once_per_period_and_yen(store_url: str) -> None:
    t = _tenant()
    now = [_utc("2026-03-10T03:00:00")]
    lim = _limiter(store_url, t, {}, tenant_budget={"tokens_per_day": 100, "yen_per_month": 1000,
                                                   "soft_percent": 50}, now=now)

    async def one(real: int, yen: int) -> Any:
        ch = await lim.admit(tenant=t, project="p", key_id="k", rid=uuid.uuid4().hex, prompt_tokens=1)
        await lim.settle(ch, real_tokens=real, micro_yen=yen * 1_000_000, wait=True)
        return ch

    async def run() -> None:
        first = await one(40, 100)
        assert first.soft == [] and first.headers == []
        second = await one(20, 100)  # 40 used: below 50 %
        assert second.soft == []
        third = await one(1, 600)  # 60 used of 100: past the soft threshold, first time
        assert [(s.what, s.period.kind, s.unit, s.crossed) for s in third.soft] == [
            (f"tenant {t}", "day", "tokens", True)
        ]
        assert dict(third.headers)[b"x-prai-budget-remaining"] == b"40"
        fourth = await one(1, 0)  # ¥800 of ¥1000: the yen budget is past 50 % too
        assert [(s.unit, s.crossed) for s in fourth.soft] == [("tokens", False), ("yen", True)]
        assert dict(fourth.headers)[b"x-prai-budget-remaining-yen"] == b"200.00"
        assert lim.unsettled == 0
        await lim.close()

    asyncio.run(run())


def test_counters_seeded_from_the_audit_log(store_url: str, tmp_path: Path) -> None:
    t = _tenant()
    now = [_utc("2026-03-10T03:00:00")]
    asked: list[tuple[str, str]] = []

    def source(budget: Any, period: Any) -> tuple[int, int]:
        asked.append((budget.what, period.label))
        return (90, 0) if period.kind == "month" else (0, 0)

    async def run() -> None:
        lim = _limiter(store_url, t, {"key_budget": {"tokens_per_month": 100}}, now=now, source=source)
        ch = await lim.admit(tenant=t, project="p", key_id="k", rid="r1", prompt_tokens=1)
        await lim.settle(ch, real_tokens=20, wait=True)  # 90 before + 20
        with pytest.raises(BudgetExceeded):
            await lim.admit(tenant=t, project="p", key_id="k", rid="r2", prompt_tokens=1)
        assert lim.unsettled == 0
        await lim.close()

    asyncio.run(run())
    assert asked == [("key k", "2026-03-10"), ("key k", "2026-03")]  # once per period


def _cluster(tmp: Path) -> Iterator[str]:
    nodes = [RedisServer(tmp / f"n{i}", "--cluster-enabled", "yes", "--cluster-config-file",
                         str(tmp / f"n{i}" / "nodes.conf"), "--cluster-node-timeout", "2000")
             for i in range(3)]
    for n in nodes:
        n.start()
    try:
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            out = subprocess.run(["redis-cli", "-p", str(nodes[0].port), "cluster", "info"],
                                 capture_output=True, text=True).stdout
            if "cluster_state:ok" in out:
                break
            time.sleep(0.2)
        yield f"redis+cluster://127.0.0.1:{nodes[0].port}"
    finally:
        for n in nodes:
            n.stop()


def test_redis_cluster_one_slot_per_tenant(tmp_path: Path, redis_url: str) -> None:
    """Every key of a request lives in its tenant's hash slot: the scripts run on a real
    three-node cluster (a key in another slot would fail with CROSSSLOT)."""
    gen = _cluster(tmp_path)
    url = next(gen)
    try:
        tenants = [_tenant() for _ in range(4)]  # spread over the nodes' slots
        now = [_utc("2026-03-10T03:00:00")]

        async def run() -> None:
            for t in tenants:
                lim = _limiter(
                    url, t,
                    {"limits": {"requests_per_minute": 3, "tokens_per_minute": 1000, "concurrent_requests": 5},
                     "key_limits": {"requests_per_minute": 3}, "budget": {"tokens_per_day": 50}},
                    tenant_budget={"tokens_per_month": 1000}, now=now,
                )
                ch = await lim.admit(tenant=t, project="p", key_id="k", rid="r1", prompt_tokens=3,
                                     reserve_tokens=10)
                await lim.settle(ch, real_tokens=50, wait=True)
                with pytest.raises(BudgetExceeded):
                    await lim.admit(tenant=t, project="p", key_id="k", rid="r2", prompt_tokens=3)
                assert lim.unsettled == 0
                await lim.close()

        asyncio.run(run())
    finally:
        gen.close()
