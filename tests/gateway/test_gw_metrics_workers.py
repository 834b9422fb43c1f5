"""``GET /metrics`` of a gateway with several worker processes: one merged view."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.gateway._gwutil import FakeUpstream, Gateway, http_json

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


def _listeners(port: int) -> int:
    """How many sockets listen on 127.0.0.1:port (SO_REUSEPORT: one line per worker)."""
    n = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.split(":")[1], 16) == port:
            n += 1
    return n


def _scrape(gw: Gateway) -> dict[str, float]:
    """Counter and histogram samples of one /metrics scrape (a fresh connection each time)."""
    status, _, text = http_json(gw.url + "/metrics")
    assert status == 200
    out: dict[str, float] = {}
    for line in str(text).splitlines():
        if line.startswith("prai_gateway_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            if name.split("{")[0].endswith(("_total", "_count", "_sum", "_bucket")):
                out[name] = float(value)
    return out


def _requests_total(sample: dict[str, float]) -> float:
    return sum(v for k, v in sample.items() if k.startswith("prai_gateway_requests_total{"))


def test_two_workers_metrics_are_one_merged_view(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream, redis_url: str
) -> None:
    tenant = "m" + uuid.uuid4().hex[:8]
    gw = make_gateway(
        {
            "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
            "ratelimit": {"url": redis_url},
            "tenants": [{"name": tenant, "projects": [{"name": "p"}]}],
        },
        extra_args=["--workers", "2"],
    ).start()
    key = gw.key(tenant, "p")
    deadline = time.monotonic() + 30
    while _listeners(gw.port) < 2:  # the second worker binds after the first serves
        assert time.monotonic() < deadline, "the second worker never listened"
        time.sleep(0.1)
    n = 24  # fresh connections: the kernel spreads them over both workers
    codes = [http_json(gw.v1("/chat/completions"), CHAT, key=key)[0] for _ in range(n)]
    assert codes == [200] * n
    scrapes = [_scrape(gw) for _ in range(10)]
    assert [_requests_total(s) for s in scrapes] == [n] * 10
    e2e = "prai_gateway_e2e_request_latency_seconds_count"
    assert all(sum(v for k, v in s.items() if k.startswith(e2e)) == n for s in scrapes)
    assert any('_bucket{le="+Inf",model="fake"}' in k for k in scrapes[0]), sorted(scrapes[0])
    for before, after in itertools.pairwise(scrapes):
        down = {k: (v, after.get(k, 0.0)) for k, v in before.items() if after.get(k, 0.0) < v}
        assert not down, down
    gw.stop()  # SIGTERM: the workers stop and the private metrics directory goes away
    assert gw.proc is not None and gw.proc.p.returncode == -15
    assert not list(gw.tmp.glob("gateway-metrics-*")), list(gw.tmp.iterdir())
