"""Budgets through real gateway processes: shared by three replicas (Redis + PostgreSQL),
soft threshold (header, audit record, metric), hard stop, kept across a restart, streams
that end early charged for what was relayed."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from prai.db.engine import open_engine
from prai.gateway.usage import usage_report
from tests.gateway._gwutil import FakeUpstream, Gateway, http_json, raw_stream_request

CHAT = {"model": "fake", "messages": [{"role": "user", "content": "hi"}]}


def _usage(gw: Gateway, tenant: str) -> list[dict[str, Any]]:
    """Usage by project from the gateway's audit store (in this process: fast to poll)."""
    import yaml

    url = yaml.safe_load(gw.config.read_text())["gateway"]["storage"]["url"]
    engine = open_engine(url)
    try:
        return [asdict(r) for r in usage_report(engine, tenant=tenant, by="project")]
    finally:
        engine.dispose()


def _wait_usage(gw: Gateway, tenant: str, requests: int, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = _usage(gw, tenant)
        if (rows and rows[0]["requests"] >= requests) or time.monotonic() > deadline:
            return rows[0] if rows else {}
        time.sleep(0.2)


def test_budget_shared_by_three_gateways_never_overshoots(
    make_gateway: Callable[..., Gateway],
    fake_upstream: FakeUpstream,
    redis_url: str,
    pg_database: str,
    tmp_path: Path,
) -> None:
    tenant = "b" + uuid.uuid4().hex[:8]
    limit = 300

    def cfg(i: int) -> dict[str, Any]:
        return {
            "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
            "tenants": [
                {
                    "name": tenant,
                    "projects": [
                        {
                            "name": "p",
                            "limits": {"max_tokens_per_request": 16},
                            "budget": {"tokens_per_day": limit},
                        }
                    ],
                }
            ],
            "ratelimit": {"url": redis_url},
            "storage": {"url": pg_database, "journal_dir": str(tmp_path / f"journal{i}"), "flush_interval_s": 0.05},
        }

    gws = [make_gateway(cfg(i), sub=f"g{i}").start() for i in range(3)]
    key = gws[0].key(tenant, "p")
    lock = threading.Lock()
    tokens_ok, refusals = [0], []

    def client(n: int) -> None:
        i = n
        while True:
            gw = gws[i % 3]
            i += 1
            st, headers, body = http_json(gw.v1("/chat/completions"), CHAT, key=key)
            with lock:
                if st == 200:
                    tokens_ok[0] += body["usage"]["total_tokens"]
                    continue
                assert st == 429 and body["error"]["type"] == "budget_exceeded", (st, body)
                refusals.append((headers, body["error"]["message"]))
                if "budget exceeded" in body["error"]["message"]:
                    return

    threads = [threading.Thread(target=client, args=(n,)) for n in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    one_request = 15  # the fake upstream's usage per answer
    assert limit <= tokens_ok[0] <= limit + one_request, tokens_ok[0]
    headers, message = next(r for r in refusals if "budget exceeded" in r[1])
    assert f"{limit} tokens per day for project {tenant}/p" in message
    assert "Asia/Tokyo" in message and "resets at" in message and "+09:00" in message
    assert int(headers["retry-after"]) >= 1 and headers["x-prai-budget-period"] == "day"
    # the audit log (PostgreSQL, written by three processes) agrees with what clients got
    row = _wait_usage(gws[0], tenant, requests=len(refusals) + tokens_ok[0] // one_request)
    assert row["total_tokens"] == tokens_ok[0]
    assert sum(g.metric('prai_gateway_budget_exceeded_total{period="day"') for g in gws) >= 1


def test_soft_threshold_hard_stop_and_restart(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    cfg = {
        "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
        "tenants": [
            {"name": "acme", "projects": [{"name": "chat", "budget": {"tokens_per_day": 60, "soft_percent": 50}}]}
        ],
    }
    gw = make_gateway(cfg).start()
    key = gw.key("acme", "chat")
    remaining = []
    for _ in range(4):  # 15 tokens each: 0, 15, 30 (50 %: soft), 45 used before each
        st, headers, _ = http_json(gw.v1("/chat/completions"), CHAT, key=key)
        assert st == 200
        remaining.append(headers.get("x-prai-budget-remaining"))
    assert remaining == [None, None, "30", "15"]
    st, headers, body = http_json(gw.v1("/chat/completions"), CHAT, key=key)
    assert st == 429 and body["error"]["type"] == "budget_exceeded"
    assert "60 tokens per day for project acme/chat" in body["error"]["message"]
    assert 'hint:' in body["error"]["message"]
    assert gw.metric('prai_gateway_budget_soft_threshold_total{period="day",project="chat",tenant="acme"}') == 1
    assert gw.metric('prai_gateway_budget_exceeded_total{period="day",project="chat",tenant="acme"}') == 1
    gw.stop()
    # the budget survives a restart (the counters are rebuilt from the audit log)
    gw.start()
    st, _, body = http_json(gw.v1("/chat/completions"), CHAT, key=key)
    assert st == 429 and body["error"]["type"] == "budget_exceeded"
    out = gw.cli("audit", "export", "-c", str(gw.config)).stdout
    events = [json.loads(line) for line in out.splitlines() if "budget.soft_threshold" in line]
    assert len(events) == 1
    detail = json.loads(events[0]["detail"])
    assert (detail["event"], detail["budget"], detail["period"], detail["unit"], detail["limit"]) == (
        "budget.soft_threshold", "project acme/chat", "day", "tokens", 60
    )
    assert detail["resets_at"].endswith("T00:00:00+09:00")
    out = gw.cli("usage", "-c", str(gw.config), "--tenant", "acme", "--format", "json").stdout
    assert json.loads(out)[0]["total_tokens"] == 60  # events are not usage


def test_stream_ended_early_is_charged_to_the_budget(
    make_gateway: Callable[..., Gateway], fake_upstream: FakeUpstream
) -> None:
    cfg = {
        "upstreams": [{"name": "main", "base_urls": [fake_upstream.url]}],
        "tenants": [
            {"name": "acme", "projects": [{"name": "chat", "key_budget": {"tokens_per_month": 1000,
                                                                            "soft_percent": 0.1}}]}
        ],
    }
    gw = make_gateway(cfg).start()
    key = gw.key("acme", "chat")
    s = raw_stream_request(gw.port, key, "SLOW")
    got = b""
    while got.count(b'"content":"x"') + got.count(b'"content": "x"') < 5:
        got += s.recv(65536)
    s.close()  # the client leaves after 5 of 200 chunks
    row = _wait_usage(gw, "acme", requests=1)
    charged = row["total_tokens"]
    assert 5 <= charged < 50, row  # what was relayed, not the 200 chunks
    st, headers, _ = http_json(gw.v1("/chat/completions"), CHAT, key=key)
    assert st == 200 and headers["x-prai-budget-remaining"] == str(1000 - charged)
