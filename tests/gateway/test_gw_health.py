"""Gateway probes with real processes: liveness stays 200 while the process works; readiness
follows the background upstream health checks (200 while one answers, else 503 in the
OpenAI envelope) and never sends a request upstream itself."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from prai.gateway.app import LIVENESS_PATHS, READINESS_PATHS
from tests._support.net import free_port
from tests.gateway._gwutil import FakeUpstream, Gateway, RedisServer, http_json, tenants


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    up = FakeUpstream("probe", "fake")
    yield up
    up.stop()


def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def _ready(gw: Gateway, path: str = "/readyz") -> int:
    return http_json(gw.url + path)[0]


def test_readiness_follows_the_upstream_and_liveness_stays_up(
    make_gateway: Callable[..., Gateway], upstream: FakeUpstream
) -> None:
    gw = make_gateway({"upstreams": [{"name": "main", "base_urls": [upstream.url], "models": ["fake"],
                                      "health_interval_s": 0.2}], "tenants": tenants()}).start()
    assert {"/health", "/healthz", "/livez", "/health/liveliness", "/health/liveness"} == LIVENESS_PATHS
    assert {"/health/readiness", "/readyz"} == READINESS_PATHS
    for path in sorted(READINESS_PATHS):
        status, _, body = http_json(gw.url + path)
        assert status == 200 and body == {"status": "ready", "healthy_replicas": 1, "replicas": 1}, (path, body)

    upstream.set_health(False)
    assert _until(lambda: _ready(gw) == 503), "readiness stayed 200 with no upstream answering"
    for path in sorted(READINESS_PATHS):
        status, headers, body = http_json(gw.url + path)
        assert status == 503 and headers["content-type"] == "application/json", path
        err = body["error"]
        assert set(err) == {"message", "type", "param", "code"} and err["code"] == 503
        assert err["message"].startswith("not ready: no upstream answers its health check (0 of 1")
        assert "hint:" in err["message"]
    for path in sorted(LIVENESS_PATHS):
        assert http_json(gw.url + path)[:3:2] == (200, {"status": "ok"}), path

    upstream.set_health(True)
    assert _until(lambda: _ready(gw) == 200), "readiness did not come back with the upstream"


def test_readiness_reads_the_health_loop_and_sends_nothing_upstream(
    make_gateway: Callable[..., Gateway], upstream: FakeUpstream
) -> None:
    gw = make_gateway({"upstreams": [{"name": "main", "base_urls": [upstream.url], "models": ["fake"],
                                      "health_interval_s": 60}], "tenants": tenants()}).start()
    before = upstream.stats()["health_checks"]
    for _ in range(20):
        assert _ready(gw) == 200
        assert _ready(gw, "/health/readiness") == 200
    assert upstream.stats()["health_checks"] == before


def test_not_ready_from_the_start_when_no_upstream_answers(make_gateway: Callable[..., Gateway]) -> None:
    dead = [f"http://127.0.0.1:{free_port()}" for _ in range(2)]  # nothing listens there
    gw = make_gateway({"upstreams": [{"name": "a", "base_urls": [dead[0]], "models": ["fake"]},
                                     {"name": "b", "base_urls": [dead[1]], "models": ["other"]}],
                       "tenants": tenants()}).start()
    status, _, body = http_json(gw.url + "/health/readiness")
    assert status == 503 and "0 of 2 replicas healthy" in body["error"]["message"], body
    assert http_json(gw.url + "/health")[0] == 200 and http_json(gw.url + "/livez")[0] == 200


@pytest.mark.parametrize("lease_s", [0, None], ids=["request_by_request", "default_leases"])
def test_readiness_follows_the_limit_store_when_failing_closed(
    make_gateway: Callable[..., Gateway], upstream: FakeUpstream, tmp_path: Path, lease_s: float | None
) -> None:
    """Redis down with fail_open false: every limited request gets 503 (with leases, once
    the held lease has expired: 1 s by default), so readiness says 503 naming the store;
    Redis back: ready again without a request or a restart."""
    redis = RedisServer(tmp_path / "redis").start()
    ratelimit: dict[str, object] = {"url": redis.url, "timeout_s": 0.3}
    if lease_s is not None:
        ratelimit["lease_s"] = lease_s
    try:
        gw = make_gateway({
            "upstreams": [{"name": "main", "base_urls": [upstream.url], "models": ["fake"]}],
            "tenants": tenants(limits={"requests_per_minute": 10000}),
            "ratelimit": ratelimit,
        }).start()
        key = gw.key("acme", "chat")
        chat = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}
        assert http_json(gw.v1("/chat/completions"), chat, key=key)[0] == 200
        assert _ready(gw) == 200
        redis.stop()
        if lease_s == 0:
            assert http_json(gw.v1("/chat/completions"), chat, key=key)[0] == 503
        else:
            assert _until(lambda: http_json(gw.v1("/chat/completions"), chat, key=key)[0] == 503, 3.0)
        for path in sorted(READINESS_PATHS):
            status, _, body = http_json(gw.url + path)
            assert status == 503, (path, body)
            err = body["error"]
            assert err["code"] == 503 and err["type"] == "service_unavailable", err
            assert err["message"].startswith(
                f"not ready: the limit store {redis.url} (gateway.ratelimit.url) cannot be reached"), err
            assert "hint:" in err["message"]
        assert http_json(gw.url + "/livez")[0] == 200
        redis.start()  # no request meanwhile: the gateway notices by itself
        assert _until(lambda: _ready(gw) == 200), "readiness stayed 503 with Redis back"
        assert http_json(gw.v1("/chat/completions"), chat, key=key)[0] == 200
    finally:
        redis.stop()


def test_upstream_down_and_back_is_one_warning_and_one_info_line(
    make_gateway: Callable[..., Gateway], upstream: FakeUpstream
) -> None:
    base = upstream.url.replace("http://", "http://probe:pr0bepass@")
    gw = make_gateway({"upstreams": [{"name": "main", "base_urls": [base], "models": ["fake"],
                                      "health_interval_s": 0.1}], "tenants": tenants()},
                      extra_args=["--log-level", "info"]).start()
    assert _ready(gw) == 200
    upstream.set_health(False)
    assert _until(lambda: _ready(gw) == 503)
    time.sleep(0.5)  # several failed checks: still one line
    upstream.set_health(True)
    assert _until(lambda: _ready(gw) == 200)
    time.sleep(0.5)
    gw.stop()
    out = gw.output()
    down = [ln for ln in out.splitlines() if "failed its health check" in ln]
    back = [ln for ln in out.splitlines() if "is healthy again" in ln]
    assert down == [f"warning: upstream main: {upstream.url} failed its health check (GET /health); "
                    "out of rotation until it answers"], out[-2000:]
    assert back == [f"upstream main: {upstream.url} is healthy again"], out[-2000:]
    assert "pr0bepass" not in out and "probe:" not in out
