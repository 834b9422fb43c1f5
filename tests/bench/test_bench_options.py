"""Option parsing, planning, tokenizer resolution, the gate's arithmetic and CLI errors
(no GuideLLM run here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prai.bench import BenchOptions, compare, plan_runs, resolve_tokenizer
from prai.bench._spec import parse_data, parse_mix, parse_slo, parse_thresholds
from prai.bench.htmlkit import bar_chart, line_chart
from prai.bench.plan import scenario_for
from prai.errors import BenchTokenizerMissing, UsageError


def test_slo_units_and_names() -> None:
    assert parse_slo("ttft=500ms,tpot=0.05s,e2e=10") == {"ttft_ms": 500.0, "tpot_ms": 50.0, "e2el_ms": 10.0}
    with pytest.raises(UsageError, match="unknown objective"):
        parse_slo("latency=1s")
    with pytest.raises(UsageError, match="not a duration"):
        parse_slo("ttft=fast")


def test_mix_is_normalised_and_checked() -> None:
    assert parse_mix("kansai=3,samurai=1") == {"kansai": 0.75, "samurai": 0.25}
    assert parse_mix("a=50%,b=50%") == {"a": 0.5, "b": 0.5}
    for bad in ("a=0", "a=x", "a", "a=1,a=2"):
        with pytest.raises(UsageError):
            parse_mix(bad)


def test_data_sources(tmp_path: Path) -> None:
    assert parse_data("synthetic:prompt_tokens=32,output_tokens=8") == {
        "kind": "synthetic_text", "prompt_tokens": 32, "output_tokens": 8}
    f = tmp_path / "prompts.jsonl"
    f.write_text('{"prompt": "こんにちは"}\n')
    assert parse_data(str(f)) == {"kind": "json_file", "path": str(f.resolve())}
    with pytest.raises(UsageError, match="no such file"):
        parse_data("org/some-hub-dataset")


def test_thresholds() -> None:
    assert parse_thresholds("ttft_p95=10%,output_tokens_per_s=5%") == {"ttft_p95": 0.1, "output_tokens_per_s": 0.05}
    with pytest.raises(UsageError):
        parse_thresholds("ttft_p95=lots")


def _opts(tmp_path: Path, **kw) -> BenchOptions:  # type: ignore[no-untyped-def]
    return BenchOptions(target="http://127.0.0.1:8000", model="prai-demo", tokenizer_dir=tmp_path,
                        out_dir=tmp_path / "o", max_requests=5, **kw)


def test_plan_and_scenario(tmp_path: Path) -> None:
    opts = _opts(tmp_path, adapters=["kansai"], mix={"kansai": 0.5, "samurai": 0.5}, profile="poisson",
                 rates=[1.0, 2.0], warmup=0.1, slo={"ttft_ms": 500.0})
    opts.validate()
    runs = plan_runs(opts)
    assert [(r.name, r.model, r.kind) for r in runs] == [
        ("base", "prai-demo", "base"), ("kansai", "kansai", "adapter"), ("mix", "prai-demo", "mix")]
    sc = scenario_for(opts, runs[1], "http://127.0.0.1:8000", tmp_path / "b.json")
    spec = sc["spec"]
    assert spec["profile"] == {"kind": "poisson", "rate": [1.0, 2.0], "warmup": 0.1}
    assert spec["backend"]["model"] == "kansai" and spec["backend"]["verify"] is True
    assert spec["tokenizer"]["model"] == str(tmp_path)
    assert spec["metrics"]["slo"] == {"ttft_ms": 500.0}
    assert "api_key" not in json.dumps(sc)


@pytest.mark.parametrize(("kw", "message"), [
    ({"profile": "constant"}, "needs --rate"),
    ({"profile": "zigzag"}, "choose one of"),
    ({"profile": "concurrent", "rates": [1.5]}, "whole numbers"),
    ({"max_requests": None}, "must end"),
])
def test_bad_options(tmp_path: Path, kw, message: str) -> None:  # type: ignore[no-untyped-def]
    opts = _opts(tmp_path)
    for k, v in kw.items():
        setattr(opts, k, v)
    with pytest.raises(UsageError, match=message):
        opts.validate()


def test_tokenizer_must_be_local(tmp_path: Path) -> None:
    with pytest.raises(BenchTokenizerMissing):
        resolve_tokenizer(None, None)
    with pytest.raises(BenchTokenizerMissing, match="no tokenizer files"):
        resolve_tokenizer(tmp_path, None)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "tokenizer.json").write_text("{}")
    assert resolve_tokenizer(None, tmp_path) == (tmp_path / "model").resolve()  # a loaded bundle dir
    with pytest.raises(BenchTokenizerMissing, match="neither a bundle"):
        resolve_tokenizer(None, tmp_path / "model")


def test_tokenizer_from_a_real_bundle(tmp_path: Path, tiny_tokenizer: Path) -> None:
    from prai.bundle.manifest import FileEntry, Manifest, dump_manifest

    bundle = tmp_path / "bundle"
    (bundle / "model").mkdir(parents=True)
    data = (tiny_tokenizer / "tokenizer.json").read_bytes()
    (bundle / "model" / "tokenizer.json").write_bytes(data)
    import hashlib
    from datetime import UTC, datetime

    manifest = Manifest(created_at=datetime.now(UTC), created_by="test", files=[FileEntry(
        role="model", name="model", path="model/tokenizer.json", size=len(data),
        sha256=hashlib.sha256(data).hexdigest())])
    (bundle / "prai-bundle.json").write_bytes(dump_manifest(manifest))
    assert resolve_tokenizer(None, bundle) == (bundle / "model").resolve()


def _summary(ttft: float, tps: float, errors: int = 0) -> dict:  # type: ignore[type-arg]
    row = {"ttft_p95_ms": ttft, "output_tokens_per_s": tps, "requests_errored": errors, "requests_successful": 10}
    return {"format": "prai-bench-summary", "runs": [{"name": "base", "model": "m", "benchmarks": [row]}]}


def test_gate_directions_and_new_errors() -> None:
    ok = compare(_summary(100, 50), _summary(105, 49), {"ttft_p95": 0.10, "output_tokens_per_s": 0.05})
    assert not ok.regressions
    slower = compare(_summary(100, 50), _summary(120, 50), {"ttft_p95": 0.10})
    assert [c.metric for c in slower.regressions] == ["ttft_p95_ms"]
    faster = compare(_summary(100, 50), _summary(50, 80), {"ttft_p95": 0.10, "output_tokens_per_s": 0.05})
    assert not faster.regressions  # better is never a regression
    errors = compare(_summary(100, 50), _summary(100, 50, errors=2), {"ttft_p95": 0.1})
    assert [c.metric for c in errors.regressions] == ["requests_errored"]
    with pytest.raises(UsageError, match="unknown metric"):
        compare(_summary(1, 1), _summary(1, 1), {"latency": 0.1})


def test_charts_handle_empty_and_single_points() -> None:
    assert "<svg" in bar_chart("t", [], {}, "ms")
    assert "<circle" in line_chart("t", {"a": [(1.0, 2.0)]}, "x", "y")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True, timeout=120)


def test_cli_errors_are_one_message_and_a_hint(tmp_path: Path) -> None:
    r = _cli("bench", "--target", "http://127.0.0.1:9", "--model", "m", "--max-requests", "1",
             "-o", str(tmp_path / "o"))
    assert r.returncode == 50 and "error: no tokenizer" in r.stderr and "hint: pass --tokenizer" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "o").exists()
    r = _cli("bench", "--target", "http://127.0.0.1:9", "--model", "m", "--adapter-mix", "a=0",
             "--tokenizer", str(tmp_path), "-o", str(tmp_path / "o"))
    assert r.returncode == 50, r.stderr  # tokenizer checked first: the directory has none
    (tmp_path / "tokenizer.json").write_text("{}")
    r = _cli("bench", "--target", "http://127.0.0.1:9", "--model", "m", "--adapter-mix", "a=0",
             "--tokenizer", str(tmp_path), "--max-requests", "1", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "weight of 'a' must be more than zero" in r.stderr
    r = _cli("bench", "compare", str(tmp_path), str(tmp_path))
    assert r.returncode == 50 and "summary.json: no such file" in r.stderr


def test_report_plots_multi_rate_runs_against_rate() -> None:
    from prai.bench.report import render_report

    def row(rate: float, ttft: float) -> dict:  # type: ignore[type-arg]
        return {"strategy": "constant", "rate": rate, "requests_per_s": rate * 0.9, "ttft_p50_ms": ttft,
                "ttft_p95_ms": ttft * 2, "output_tokens_per_s": rate * 10, "requests_successful": 5}

    summary = {"format": "prai-bench-summary", "profile": "constant", "runs": [
        {"name": "base", "model": "m", "benchmarks": [row(4, 30), row(1, 10), row(2, 20)]}]}
    html = render_report(summary)
    assert "TTFT against rate" in html and "Output throughput against rate" in html
    assert "base constant@1" in html and "base constant@4" in html
    assert "<script" not in html


def test_unreachable_target_is_one_clear_error(tmp_path: Path, tiny_tokenizer: Path) -> None:
    pytest.importorskip("guidellm")
    from tests._support.net import free_port

    r = _cli("bench", "--target", f"http://127.0.0.1:{free_port()}", "--model", "m", "--tokenizer",
             str(tiny_tokenizer), "--max-requests", "1", "-o", str(tmp_path / "o"))
    assert r.returncode == 51, r.stderr
    # Found by the preflight (GET /v1/models) before GuideLLM starts: nothing is written.
    assert "error: cannot reach http://127.0.0.1:" in r.stderr and "ConnectError" in r.stderr
    assert "Traceback" not in r.stderr and "hint: is the server running?" in r.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_prompts_from_a_carried_in_jsonl_file(fake, tiny_tokenizer: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("guidellm")
    from prai.bench import run_bench
    from tests.bench.conftest import API_KEY

    data = tmp_path / "prompts.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "output_tokens_count": 6}, ensure_ascii=False) + "\n"
                            for p in ("こんにちは", "閉域網とは何ですか？", "Hello")), encoding="utf-8")
    opts = BenchOptions(target=fake.url, model="prai-demo", tokenizer_dir=tiny_tokenizer, out_dir=tmp_path / "o",
                        api_key=API_KEY, max_requests=3, data=parse_data(str(data)))
    res = run_bench(opts, cache_dir=tmp_path / "cache", run_timeout_s=240)
    row = res.summary["runs"][0]["benchmarks"][0]
    assert row["requests_successful"] == 3
    report = json.loads((res.out_dir / "runs/base/benchmarks.json").read_text())
    sent = [json.loads(r["request_args"])["body"]["messages"][0]["content"]
            for r in report["benchmarks"][0]["requests"]["successful"]]
    assert "こんにちは" in json.dumps(sent, ensure_ascii=False)
