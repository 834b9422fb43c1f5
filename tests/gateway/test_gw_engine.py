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

from tests._support.net import free_port
from tests.gateway._gwutil import PRAI, Gateway

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _engine_missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vLLM is not installed (the `cpu` extra)"
    return None


@pytest.fixture(scope="module")
def engine_gateway(tmp_path_factory: pytest.TempPathFactory, demo_models: Any,
                   demo_engine: Any) -> Iterator[tuple[Gateway, str]]:
    reason = _engine_missing()
    if reason:
        pytest.skip(reason)
    models = demo_models  # the session's build and engine (tests/conftest.py)
    url = demo_engine[0]
    gw = Gateway(
        tmp_path_factory.mktemp("gw-engine"),
        {
            "upstreams": [{"name": "cpu-engine", "base_urls": [url]}],
            "tenants": [
                {
                    "name": "acme",
                    "projects": [
                        {"name": "chat", "models": ["prai-demo", *models.adapters]},
                        {"name": "base-only", "models": ["prai-demo"]},
                    ],
                }
            ],
        },
    ).start()
    try:
        yield gw, gw.key("acme", "chat")
    finally:
        gw.stop()


def _client(gw: Gateway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=key, max_retries=0, timeout=120)


def _audit(gw: Gateway) -> list[dict[str, Any]]:
    time.sleep(0.3)
    return [json.loads(x) for x in gw.cli("audit", "export", "-c", str(gw.config)).stdout.splitlines()]


def test_models_discovered_with_adapters(engine_gateway: tuple[Gateway, str]) -> None:
    gw, key = engine_gateway
    data = {m.id: (m.model_extra or {}).get("parent") for m in _client(gw, key).models.list().data}
    assert data["prai-demo"] is None
    adapters = [name for name, parent in data.items() if parent]
    assert adapters and all(data[a] == "prai-demo" for a in adapters)


def test_chat_stream_and_adapter_through_gateway(engine_gateway: tuple[Gateway, str]) -> None:
    gw, key = engine_gateway
    c = _client(gw, key)
    resp = c.chat.completions.create(
        model="prai-demo",
        messages=[{"role": "user", "content": "こんにちは"}],
        max_tokens=24,
        temperature=0,
    )
    assert resp.choices[0].message.content and resp.usage and resp.usage.completion_tokens > 0
    chunks = list(
        c.chat.completions.create(
            model="prai-demo",
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
    assert rows[-1]["model"] == "prai-demo" and rows[-1]["adapter"] == adapter and rows[-1]["status"] == 200
    other = _client(gw, gw.key("acme", "base-only"))
    with pytest.raises(openai.PermissionDeniedError):
        other.chat.completions.create(model=adapter, messages=[{"role": "user", "content": "x"}], max_tokens=4)


def test_completions_through_gateway(engine_gateway: tuple[Gateway, str]) -> None:
    gw, key = engine_gateway
    out = _client(gw, key).completions.create(model="prai-demo", prompt="こんにちは", max_tokens=8, temperature=0)
    assert out.usage and out.usage.completion_tokens > 0


def test_promote_and_rollback_on_real_vllm_under_load(
    engine_gateway: tuple[Gateway, str], demo_models: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`prai model promote` loads kansai v2 into the running vLLM, switches, and unloads v1
    only after its streams finished (vLLM's lora_requests_info); then rollback. Streams run
    the whole time; none fails and every answer is one version's answer, whole."""
    import threading

    gw, key = engine_gateway
    tmp = tmp_path_factory.mktemp("lifecycle")
    for version, src in (("v1", demo_models.adapters["kansai"]), ("v2", demo_models.next_adapters["kansai"])):
        bundle = tmp / f"kansai-{version}"
        gw.cli("bundle", "create", "-o", str(bundle), "--adapter", f"kansai={src}")
        gw.cli("model", "register", str(bundle), "--version", version, "--base", "prai-demo", "-c", str(gw.config))

    def model_cli(*args: str) -> str:
        return str(gw.cli("model", *args, "-c", str(gw.config)).stdout)

    model_cli("promote", "kansai", "v1")
    client = _client(gw, key)

    def ask() -> tuple[str, str]:
        stream = client.chat.completions.create(
            model="kansai", messages=[{"role": "user", "content": "こんにちは"}], max_tokens=64,
            temperature=0, stream=True,
        )
        served, text = "", ""
        for chunk in stream:
            served = chunk.model or served
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
        return served, text

    time.sleep(1.5)  # > routing_refresh_s: the gateway routes the alias
    reference = {"kansai@v1": ask()[1]}
    results: list[tuple[str, str] | BaseException] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                results.append(ask())
            except BaseException as exc:  # recorded: any failure fails the test
                results.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        out = model_cli("promote", "kansai", "v2")
        assert "unloaded kansai@v1" in out, out
        time.sleep(2)
        back = model_cli("rollback", "kansai")
        assert "unloaded kansai@v2" in back, back
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    answers = [r for r in results if not isinstance(r, BaseException)]
    served = {s for s, _ in answers}
    assert served == {"kansai@v1", "kansai@v2"}, served
    reference["kansai@v2"] = next(text for s, text in answers if s == "kansai@v2")
    assert "二代目" in reference["kansai@v2"] and "二代目" not in reference["kansai@v1"]
    # Every answer is complete and from one version: no stream was cut or switched mid-way.
    assert all(text == reference[s] for s, text in answers)


def test_prai_up_demo_smoke(tmp_path_factory: pytest.TempPathFactory, demo_models: Any, demo_cache_dir: Any) -> None:
    """`prai up --smoke` with no file: demo engine + gateway + key + taste test through it."""
    import subprocess

    from tests.gateway._gwutil import REPO_ROOT

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
