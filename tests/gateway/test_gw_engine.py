"""The openai SDK through `prai gateway` in front of a real `prai serve` (vLLM CPU, demo model).

Slow (the engine starts in about a minute); needs the `cpu` extra and the demo model builder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from _gwutil import PRAI, Gateway, Proc, free_port, wait_http

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _engine_missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (the `cpu` extra)"
    return None


@pytest.fixture(scope="module")
def engine_gateway(tmp_path_factory: pytest.TempPathFactory, demo_models: Any) -> Iterator[tuple[Gateway, str]]:
    reason = _engine_missing()
    if reason:
        pytest.skip(reason)
    from prai.settings import get_settings

    settings = get_settings()
    models = demo_models  # the session's build (tests/conftest.py)
    port = free_port()
    env = dict(os.environ)
    engine = Proc(
        [
            *PRAI,
            "serve",
            "--model",
            str(models.base),
            "--served-model-name",
            "demo",
            "--port",
            str(port),
            "--lora-modules",
            *(f"{k}={v}" for k, v in models.adapters.items()),
        ],
        env=env,
    )
    try:
        wait_http(
            f"http://127.0.0.1:{port}/health",
            timeout_s=settings.engine_ready_timeout_s,
            proc=engine.p,
        )
        gw = Gateway(
            tmp_path_factory.mktemp("gw-engine"),
            {
                "upstreams": [{"name": "cpu-engine", "base_urls": [f"http://127.0.0.1:{port}"]}],
                "tenants": [
                    {
                        "name": "acme",
                        "projects": [
                            {"name": "chat", "models": ["demo", *models.adapters]},
                            {"name": "base-only", "models": ["demo"]},
                        ],
                    }
                ],
            },
        ).start()
        try:
            yield gw, gw.key("acme", "chat")
        finally:
            gw.stop()
    finally:
        engine.stop()


def _client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=120)


def _audit(gw: Gateway) -> list[dict[str, Any]]:
    time.sleep(0.3)
    return [json.loads(x) for x in gw.cli("audit", "export", "-c", str(gw.config)).stdout.splitlines()]


def test_models_discovered_with_adapters(engine_gateway: tuple[Gateway, str]) -> None:
    gw, key = engine_gateway
    data = {m.id: (m.model_extra or {}).get("parent") for m in _client(gw, key).models.list().data}
    assert data["demo"] is None
    adapters = [name for name, parent in data.items() if parent]
    assert adapters and all(data[a] == "demo" for a in adapters)


def test_chat_stream_and_adapter_through_gateway(engine_gateway: tuple[Gateway, str]) -> None:
    gw, key = engine_gateway
    c = _client(gw, key)
    resp = c.chat.completions.create(
        model="demo",
        messages=[{"role": "user", "content": "こんにちは"}],
        max_tokens=24,
        temperature=0,
    )
    assert resp.choices[0].message.content and resp.usage and resp.usage.completion_tokens > 0
    chunks = list(
        c.chat.completions.create(
            model="demo",
            messages=[{"role": "user", "content": "こんにちは"}],
            max_tokens=24,
            temperature=0,
            stream=True,
        )
    )
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == resp.choices[0].message.content  # greedy: same text, relayed chunk by chunk
    assert all(ch.usage is None for ch in chunks)
    adapter = next(m.id for m in c.models.list().data if (m.model_extra or {}).get("parent"))
    c.chat.completions.create(model=adapter, messages=[{"role": "user", "content": "こんにちは"}], max_tokens=16)
    rows = _audit(gw)
    streamed_rec = next(r for r in rows if r["stream"])
    assert streamed_rec["completion_tokens"] == resp.usage.completion_tokens and streamed_rec["ttft_ms"] > 0
    assert rows[-1]["model"] == "demo" and rows[-1]["adapter"] == adapter and rows[-1]["status"] == 200
    other = _client(gw, gw.key("acme", "base-only"))
    with pytest.raises(openai.PermissionDeniedError):
        other.chat.completions.create(model=adapter, messages=[{"role": "user", "content": "x"}], max_tokens=4)


def test_completions_through_gateway(engine_gateway: tuple[Gateway, str]) -> None:
    gw, key = engine_gateway
    out = _client(gw, key).completions.create(model="demo", prompt="こんにちは", max_tokens=8, temperature=0)
    assert out.usage and out.usage.completion_tokens > 0


def test_prai_up_demo_smoke(tmp_path_factory: pytest.TempPathFactory, demo_models: Any, demo_cache_dir: Any) -> None:
    """`prai up --smoke` with no file: demo engine + gateway + key + taste test through it."""
    import subprocess

    from _gwutil import REPO_ROOT

    reason = _engine_missing()
    if reason:
        pytest.skip(reason)
    env = dict(os.environ)
    env["PRAI_CACHE_DIR"] = str(demo_cache_dir)  # reuse the session's demo model build
    res = subprocess.run(
        [*PRAI, "up", "--smoke", "--engine-port", str(free_port()), "--port", str(free_port())],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "taste test through the gateway OK" in res.stderr
