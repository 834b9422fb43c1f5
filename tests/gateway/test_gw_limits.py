"""Rate limits: requests/min, tokens/min, concurrency, 429 headers, shared through Redis."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
import uuid
from collections.abc import Callable

import pytest

from tests.gateway._gwutil import FakeUpstream, Gateway, http_json, tenants

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


def _upstreams(fake: FakeUpstream) -> list[dict[str, object]]:
    return [{"name": "main", "base_urls": [fake.url]}]


def test_requests_per_minute_429_with_headers(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {
            "upstreams": _upstreams(fake_upstream),
            "tenants": tenants(key_limits={"requests_per_minute": 3}),
        }
    ).start()
    k1, k2 = gw.key("acme", "chat"), gw.key("acme", "chat")
    for _ in range(3):
        assert http_json(gw.v1("/chat/completions"), CHAT, key=k1)[0] == 200
    st, headers, body = http_json(gw.v1("/chat/completions"), CHAT, key=k1)
    assert st == 429 and body["error"]["type"] == "rate_limit_error"
    assert 1 <= int(headers["retry-after"]) <= 120  # sliding window: up to two minutes
    assert (
        headers["x-ratelimit-limit-requests"] == "3"
        and headers["x-ratelimit-remaining-requests"] == "0"
    )
    # per-key limit: another key of the same project is not affected
    assert http_json(gw.v1("/chat/completions"), CHAT, key=k2)[0] == 200
    _, _, metrics = http_json(gw.url + "/metrics")
    assert 'prai_gateway_ratelimit_rejections_total{project="chat",tenant="acme"} 1.0' in metrics


def test_tokens_per_minute_counts_real_usage(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    # the fake upstream reports 15 tokens per answer; the prompt estimate is ~1 token
    gw = make_gateway(
        {
            "upstreams": _upstreams(fake_upstream),
            "tenants": tenants(limits={"tokens_per_minute": 40}),
        }
    ).start()
    k = gw.key("acme", "chat")
    codes = [http_json(gw.v1("/chat/completions"), CHAT, key=k)[0] for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    st, headers, _ = http_json(gw.v1("/chat/completions"), CHAT, key=k)
    assert st == 429 and "x-ratelimit-limit-tokens" in headers and int(headers["retry-after"]) >= 1
    # an oversize prompt is refused before the call
    big = {"model": "fake", "messages": [{"role": "user", "content": "字" * 100}]}
    k2 = gw.key("globex", "ops")
    assert http_json(gw.v1("/chat/completions"), big, key=k2)[0] == 200  # other project: no limit


def test_concurrency_limit(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {
            "upstreams": _upstreams(fake_upstream),
            "tenants": tenants(limits={"concurrent_requests": 2}),
        }
    ).start()
    k = gw.key("acme", "chat")
    slow = {"model": "fake", "messages": [{"role": "user", "content": "SLEEP"}]}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futs = [pool.submit(http_json, gw.v1("/chat/completions"), slow, k) for _ in range(4)]
        codes = sorted(f.result()[0] for f in futs)
    assert codes == [200, 200, 429, 429]
    assert http_json(gw.v1("/chat/completions"), CHAT, key=k)[0] == 200  # slots released


def test_limits_shared_by_two_processes_through_redis(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, redis_url: str, tmp_path
) -> None:
    # a unique tenant name keeps counters of earlier runs in the same Redis apart
    tenant = "t" + uuid.uuid4().hex[:8]
    cfg = {
        "upstreams": _upstreams(fake_upstream),
        "tenants": [
            {"name": tenant, "projects": [{"name": "p", "limits": {"requests_per_minute": 5}}]}
        ],
        "ratelimit": {"url": redis_url},
        "storage": {
            "url": f"sqlite:///{tmp_path / 'shared.db'}",
            "journal_dir": str(tmp_path / "journal"),
            "flush_interval_s": 0.05,
        },
    }
    a = make_gateway(cfg, sub="a").start()
    b = make_gateway(cfg, sub="b").start()
    key = a.key(tenant, "p")
    codes = [http_json(g.v1("/chat/completions"), CHAT, key=key)[0] for g in (a, b) * 4]
    assert codes.count(200) == 5 and codes.count(429) == 3, codes
    assert codes[:5] == [200] * 5


def test_workers_need_redis(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway({"upstreams": _upstreams(fake_upstream), "tenants": tenants()})
    res = gw.cli("gateway", "--config", str(gw.config), "--workers", "2", check=False)
    assert res.returncode == 2 and "redis" in res.stderr and "Traceback" not in res.stderr


def test_two_workers_on_one_port(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, redis_url: str
) -> None:
    tenant = "w" + uuid.uuid4().hex[:8]
    gw = make_gateway(
        {
            "upstreams": _upstreams(fake_upstream),
            "ratelimit": {"url": redis_url},
            "tenants": [
                {"name": tenant, "projects": [{"name": "p", "limits": {"requests_per_minute": 4}}]}
            ],
        },
        extra_args=["--workers", "2"],
    ).start()
    key = gw.key(tenant, "p")
    time.sleep(1.0)  # the second worker starts after the first
    codes = [http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] for _ in range(8)]
    assert codes.count(200) == 4, codes


def test_window_retry_after_is_accurate() -> None:
    from prai.config.gateway import GatewayConfig
    from prai.errors import RateLimited
    from prai.gateway.ratelimit import Limiter, window_wait

    now = [600.0]  # the start of a minute window
    cfg = GatewayConfig.model_validate(
        {"tenants": [{"name": "t", "projects": [{"name": "p", "limits": {"requests_per_minute": 10}}]}]}
    )
    lim = Limiter(cfg)
    lim.clock.now = lambda: now[0]

    def admit() -> None:
        asyncio.run(lim.admit(tenant="t", project="p", key_id="k", rid="r", prompt_tokens=1))

    for _ in range(10):
        admit()
    with pytest.raises(RateLimited) as err:
        admit()
    headers = dict(err.value.headers)  # type: ignore[attr-defined]
    wait_s = err.value.retry_after_s
    assert headers[b"x-ratelimit-remaining-requests"] == b"0"
    assert 60 <= wait_s <= 66.1  # to the window's end, then 1/10 slides out
    now[0] += wait_s + 0.01
    admit()
    with pytest.raises(RateLimited):
        admit()
    # the last window's one hit still counts half: (prev 1 × 30/60) + cur 0
    assert window_wait(10, 60, 600.0 + 120, 1.0, 0.0, 600.0 + 150, 1) == (0.0, 9)
    assert window_wait(10, 60, 600.0 + 240, 0.0, 0.0, 600.0 + 240, 1) == (0.0, 10)
