"""The openai SDK through `prai gateway` in front of a fake upstream: routing, streams,
usage, tenant isolation, audit records, metrics, every error path."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests._support.net import free_port
from tests.gateway._gwutil import FakeUpstream, Gateway, http_json, raw_stream_request, tenants


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream) -> Iterator[Gateway]:
    dead = f"http://127.0.0.1:{free_port()}"
    g = Gateway(
        tmp_path_factory.mktemp("gw"),
        {
            "upstreams": [
                {
                    "name": "main",
                    "base_urls": [dead, fake_upstream.url],
                    "timeout_s": 1.0,
                    "health_interval_s": 0.5,
                },
            ],
            "tenants": tenants(key_limits={"max_tokens_per_request": 64}),
            "max_body_bytes": 20000,
        },
    ).start()
    yield g
    g.stop()


@pytest.fixture(scope="module")
def key(gw: Gateway) -> str:
    return gw.key("acme", "chat")


def client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=20)


def audit_rows(gw: Gateway, *args: str) -> list[dict[str, Any]]:
    time.sleep(0.3)  # > flush_interval_s
    out = gw.cli("audit", "export", "-c", str(gw.config), *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_models_lists_only_the_projects_models(gw: Gateway, key: str) -> None:
    ids = sorted(m.id for m in client(gw, key).models.list().data)
    assert ids == ["embed", "fake", "fake-lora"]
    rag = gw.key("acme", "rag")
    assert [m.id for m in client(gw, rag).models.list().data] == ["embed"]
    lora = next(m for m in client(gw, key).models.list().data if m.id == "fake-lora")
    assert lora.model_extra and lora.model_extra["parent"] == "fake"


def test_chat_non_stream_and_adapter_routing(
    gw: Gateway, key: str, fake_upstream: FakeUpstream
) -> None:
    c = client(gw, key)
    raw = c.chat.completions.with_raw_response.create(
        model="fake-lora", messages=[{"role": "user", "content": "こんにちは"}]
    )
    resp = raw.parse()
    assert resp.choices[0].message.content.startswith("こんにちは！")
    assert resp.usage and resp.usage.completion_tokens == 5
    assert float(raw.headers["x-prai-gateway-ms"]) >= 0
    rid = raw.headers["x-prai-request-id"]
    rec = next(
        r
        for r in audit_rows(gw, "--tenant", "acme")
        if r["status"] == 200 and r["adapter"] == "fake-lora"
    )
    assert (rec["tenant"], rec["project"], rec["model"], rec["adapter"]) == (
        "acme",
        "chat",
        "fake",
        "fake-lora",
    )
    assert rec["prompt_tokens"] == 10 and rec["completion_tokens"] == 5
    assert rec["prompt"] is None and rec["key_id"] in key and rid
    # max_tokens filled in from key_limits when the client sent none
    assert fake_upstream.stats()["last_body"]["max_tokens"] == 64


def test_stream_usage_stripped_unless_asked(
    gw: Gateway, key: str, fake_upstream: FakeUpstream
) -> None:
    c = client(gw, key)
    chunks = list(
        c.chat.completions.create(
            model="fake", stream=True, messages=[{"role": "user", "content": "hi"}]
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "こんにちは from fake"
    assert all(ch.usage is None for ch in chunks)  # the gateway asked for usage, the client did not
    assert fake_upstream.stats()["last_body"]["stream_options"] == {"include_usage": True}
    chunks = list(
        c.chat.completions.create(
            model="fake",
            stream=True,
            stream_options={"include_usage": True},
            messages=[{"role": "user", "content": "hi"}],
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    rec = [r for r in audit_rows(gw) if r["stream"]][-1]
    assert (
        rec["completion_tokens"] == 4
        and rec["ttft_ms"] is not None
        and rec["ttft_ms"] <= rec["latency_ms"]
    )


def test_completions_and_embeddings(gw: Gateway, key: str) -> None:
    c = client(gw, key)
    comp = c.completions.create(model="fake", prompt="hello", max_tokens=8)
    assert comp.choices[0].text.startswith("こんにちは")
    streamed = "".join(
        ch.choices[0].text
        for ch in c.completions.create(model="fake", prompt="x", stream=True)
        if ch.choices
    )
    assert streamed == "こんにちは from fake"
    emb = c.embeddings.create(model="embed", input=["a", "b"])
    assert len(emb.data) == 2 and emb.usage.prompt_tokens == 14
    rec = [r for r in audit_rows(gw) if r["endpoint"] == "embeddings"][-1]
    assert rec["prompt_tokens"] == 14


def test_tenant_isolation(gw: Gateway, key: str) -> None:
    rag = client(gw, gw.key("acme", "rag"))
    with pytest.raises(openai.PermissionDeniedError) as e:
        rag.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["type"] == "permission_error"  # type: ignore[index]
    # another tenant's key works for its own project and its records are its own
    ops = client(gw, gw.key("globex", "ops"))
    ops.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}])
    assert all(r["tenant"] == "globex" for r in audit_rows(gw, "--tenant", "globex"))
    assert all(r["tenant"] == "acme" for r in audit_rows(gw, "--tenant", "acme"))


def test_auth_errors(gw: Gateway, key: str) -> None:
    for k, needle in ((None, "missing"), ("sk-prai-nope", "invalid API key")):
        st, _, body = http_json(
            gw.v1("/chat/completions"), {"model": "fake", "messages": []}, key=k
        )
        assert (
            st == 401
            and needle in body["error"]["message"]
            and body["error"]["type"] == "authentication_error"
        )
    c = client(gw, "sk-prai-wrong")
    with pytest.raises(openai.AuthenticationError):
        c.models.list()
    # revoke propagates within key_cache_refresh_s (0.2 s) without a restart
    k2 = gw.key("acme", "chat")
    client(gw, k2).models.list()
    key_id = k2.split("_")[0].removeprefix("sk-prai-")
    gw.cli("keys", "revoke", key_id, "-c", str(gw.config))
    time.sleep(0.8)
    with pytest.raises(openai.AuthenticationError) as e:
        client(gw, k2).models.list()
    assert "revoked" in str(e.value)
    # expired
    k3 = gw.key("acme", "chat", "--expires", "1s")
    time.sleep(1.5)
    st, _, body = http_json(gw.v1("/models"), key=k3)
    assert st == 401 and "expired" in body["error"]["message"]
    listed = json.loads(gw.cli("keys", "list", "--json", "-c", str(gw.config)).stdout)
    states = {r["id"]: r["state"] for r in listed}
    assert states[key_id] == "revoked" and "key_hash" not in listed[0]
    # the database holds only hashes
    import sqlite3

    db = sqlite3.connect(gw.tmp / "gw.db")
    dump = "\n".join(db.iterdump())
    assert k2 not in dump and key not in dump


def test_request_errors(gw: Gateway, key: str) -> None:
    c = client(gw, key)
    with pytest.raises(openai.NotFoundError) as nf:
        c.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert nf.value.body["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as br:
        c.chat.completions.create(
            model="fake", max_tokens=1000, messages=[{"role": "user", "content": "x"}]
        )
    assert "at most 64" in str(br.value)
    st, _, body = http_json(gw.v1("/chat/completions"), b"{not json", key=key)
    assert st == 400 and body["error"]["type"] == "invalid_request_error"
    st, _, body = http_json(gw.v1("/chat/completions"), {"messages": []}, key=key)
    assert st == 400 and body["error"]["param"] == "model"
    st, _, body = http_json(
        gw.v1("/chat/completions"),
        {"model": "fake", "messages": [{"role": "user", "content": "x" * 30000}]},
        key=key,
    )
    assert st == 413 and "limit" in body["error"]["message"]
    st, _, body = http_json(gw.url + "/v1/nothing", key=key)
    assert st == 404 and "error" in body


def test_upstream_errors_do_not_leak(gw: Gateway, key: str) -> None:
    c = client(gw, key)
    with pytest.raises(openai.InternalServerError) as e:
        c.chat.completions.create(model="fake", messages=[{"role": "user", "content": "FAIL500"}])
    assert e.value.status_code == 502
    text = json.dumps(e.value.body)
    assert "secret internal detail" not in text and "127.0.0.1" not in text and "main" not in text
    rec = [r for r in audit_rows(gw) if r["status"] == 502][-1]
    assert rec["upstream"].startswith("main@http://127.0.0.1:")
    with pytest.raises(openai.APIStatusError) as t:
        c.chat.completions.create(model="fake", messages=[{"role": "user", "content": "SLEEP"}])
    assert t.value.status_code == 504


def test_error_after_stream_started_is_a_data_event(gw: Gateway, key: str) -> None:
    with raw_stream_request(gw.port, key, "BREAK", close=True) as s:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    text = data.decode()
    assert "200 OK" in text.splitlines()[0]
    events = [line[6:] for line in text.split("\r\n") if line.startswith("data: ")]
    last = json.loads(events[-1])
    assert last["error"]["type"] == "upstream_error" and "127.0.0.1" not in events[-1]


def test_failover_skips_dead_replica(gw: Gateway, key: str) -> None:
    c = client(gw, key)
    for _ in range(6):  # round-robin hits the dead replica too: it fails over
        c.chat.completions.create(model="fake", messages=[{"role": "user", "content": "x"}])


def test_metrics(gw: Gateway, key: str) -> None:
    st, _, text = http_json(gw.url + "/metrics")
    assert st == 200
    assert (
        'prai_gateway_requests_total{model="fake",project="chat",status="200",tenant="acme"}'
        in text
    )
    assert "prai_gateway_time_to_first_token_seconds_bucket" in text
    assert 'prai_gateway_upstream_healthy{replica="' in text
    assert (
        "prai_gateway_requests_in_flight" in text and "prai_gateway_generation_tokens_total" in text
    )


def test_grafana_dashboard_uses_exported_metrics(gw: Gateway, key: str) -> None:
    import re

    from tests.gateway._gwutil import REPO_ROOT

    exprs = [
        t["expr"]
        for name in ("prai-gateway.json", "prai-tenant.json")
        for p in json.loads((REPO_ROOT / "docs" / "grafana" / name).read_text())["panels"]
        for t in p["targets"]
    ]
    families = {
        re.sub(r"_(total|bucket|sum|count)$", "", n)
        for e in exprs
        for n in re.findall(r"prai_gateway_\w+", e)
    }
    _, _, text = http_json(gw.url + "/metrics")
    exported = {
        re.sub(r"_total$", "", n) for n in re.findall(r"^# TYPE (prai_gateway_\w+) ", text, re.M)
    }
    assert families and families <= exported, families - exported
