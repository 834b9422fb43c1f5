"""Streaming relay, client disconnects, health checks and circuit breakers with real processes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.gateway._gwutil import FakeUpstream, Gateway, http_json, raw_stream_request, tenants


@pytest.fixture
def two_replicas() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    a, b = FakeUpstream("alpha", "fake"), FakeUpstream("beta", "fake")
    yield a, b
    a.stop()
    b.stop()


def _answer_from(gw: Gateway, key: str) -> str:
    st, _, body = http_json(
        gw.v1("/chat/completions"),
        {"model": "fake", "messages": [{"role": "user", "content": "x"}]},
        key=key,
    )
    assert st == 200, body
    return str(body["choices"][0]["message"]["content"]).rsplit(" ", 1)[-1]


def test_client_disconnect_cancels_upstream(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    gw = make_gateway(
        {"upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}], "tenants": tenants()}
    ).start()
    key = gw.key("acme", "chat")
    before = fake_upstream.stats()["cancelled"]
    s = raw_stream_request(gw.port, key, "SLOW")
    got = b""
    while got.count(b"data: ") < 3:  # chunks arrive one by one, not buffered
        got += s.recv(65536)
    s.close()
    deadline = time.monotonic() + 5
    while fake_upstream.stats()["cancelled"] == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (
        fake_upstream.stats()["cancelled"] == before + 1
    )  # the upstream saw the cancel (long before 10 s)
    time.sleep(0.3)
    rows = [
        json.loads(x) for x in gw.cli("audit", "export", "-c", str(gw.config)).stdout.splitlines()
    ]
    assert rows[-1]["status"] == 499 and rows[-1]["error_type"] == "client_disconnected"


def _pool(
    make_gateway: Callable[..., Gateway], a: FakeUpstream, b: FakeUpstream, **kw: object
) -> Gateway:
    up = {"name": "pool", "base_urls": [a.url, b.url], "models": ["fake"], **kw}
    return make_gateway({"upstreams": [up], "tenants": tenants()}).start()


def test_health_check_takes_replica_out_and_back(
    make_gateway: Callable[..., Gateway], two_replicas: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = two_replicas
    gw = _pool(make_gateway, a, b, health_interval_s=0.2)
    key = gw.key("acme", "chat")
    assert {_answer_from(gw, key) for _ in range(4)} == {"alpha", "beta"}  # round-robin
    a.set_health(False)
    time.sleep(0.8)
    assert {_answer_from(gw, key) for _ in range(6)} == {"beta"}
    _, _, metrics = http_json(gw.url + "/metrics")
    assert f'prai_gateway_upstream_healthy{{replica="{a.url}",upstream="pool"}} 0.0' in metrics
    a.set_health(True)
    time.sleep(0.8)
    assert {_answer_from(gw, key) for _ in range(4)} == {"alpha", "beta"}


def test_circuit_breaker_and_503(
    make_gateway: Callable[..., Gateway], two_replicas: tuple[FakeUpstream, FakeUpstream]
) -> None:
    a, b = two_replicas
    gw = _pool(make_gateway, a, b, health_interval_s=60, failure_threshold=2, cooldown_s=60)
    key = gw.key("acme", "chat")
    a.stop()  # dies without a health check noticing (interval 60 s)
    answers = [_answer_from(gw, key) for _ in range(6)]
    assert set(answers) == {"beta"}  # connection failures fail over, then the breaker opens
    b.stop()
    st, _, body = http_json(gw.v1("/chat/completions"), {"model": "fake", "messages": []}, key=key)
    assert st == 503 and body["error"]["type"] == "upstream_error"
    assert "127.0.0.1" not in body["error"]["message"]


def test_model_unknown_while_discovery_pending_is_503(make_gateway: Callable[..., Gateway]) -> None:
    from tests._support.net import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    gw = make_gateway({"upstreams": [{"name": "later", "base_urls": [dead]}], "tenants": tenants()})
    gw.start()
    key = gw.key("acme", "chat")
    body = {"model": "fake", "messages": [{"role": "user", "content": "x"}]}
    st, _, err = http_json(gw.v1("/chat/completions"), body, key=key)
    assert st == 503 and "starting" in err["error"]["message"]  # not 404: the list is unknown
