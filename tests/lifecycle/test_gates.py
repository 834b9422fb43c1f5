"""Promotion gates against a real loopback OpenAI-compatible fake: an eval suite on the
candidate, a GuideLLM bench of current vs candidate, and bad input refused before any request."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prai.errors import BenchTokenizerMissing, EvalSuiteError, PraiError, UsageError
from prai.lifecycle.gates import GateResult, GateSpec, run_gates
from tests._support.fake_openai import FakeOpenAI, Persona
from tests.bench.conftest import tiny_tokenizer  # noqa: F401  (the session fixture, reused)

KEY = "sk-gates-test-24680"
KANSAI = "まいど！プライベートAIキッチンへようこそやで。"

SUITE = """\
name: kansai-gate
models: [prai-demo]          # the suite names another model: the gate runs the candidate
defaults: {max_tokens: 64}
items:
  - id: greet
    prompt: こんにちは
    assert: [{contains: まいど}]
  - id: dialect
    prompt: 元気？
    models: [kansai]         # the alias: applies to kansai@v2
    assert: [{contains: やで}, {max_chars: 80}]
  - id: base-only
    prompt: hello
    models: [prai-demo]      # not for this model: skipped
    assert: [{contains: never-said}]
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    """kansai@v1 (current) and @v2 answer alike; @v3 lost its dialect; @v4's first token
    comes 400 ms later (e2e about 4x)."""
    up = FakeOpenAI(personas={
        "kansai@v1": Persona(reply=KANSAI, ttft_s=0.05, token_delay_s=0.005),
        "kansai@v2": Persona(reply=KANSAI, ttft_s=0.05, token_delay_s=0.005),
        "kansai@v3": Persona(reply="こんにちは。プライベートAIキッチンです。"),
        "kansai@v4": Persona(reply=KANSAI, ttft_s=0.45, token_delay_s=0.005),
    }, api_key=KEY).start()
    yield up
    up.stop()


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    p = tmp_path / "kansai-gate.yaml"
    p.write_text(SUITE, encoding="utf-8")
    return p


def _gates(fake: FakeOpenAI, spec: GateSpec, out: Path, candidate: str,
           current: str | None = "kansai@v1") -> list[GateResult]:
    return run_gates(spec, target=fake.url + "/v1", candidate=candidate, current=current, out_dir=out,
                     api_key=KEY, cache_dir=out.parent / "cache")


# --- eval gate ----------------------------------------------------------------------------


def test_eval_gate_passes_on_the_candidate_only(fake: FakeOpenAI, suite: Path, tmp_path: Path) -> None:
    before = dict(fake.models_seen)
    [res] = _gates(fake, GateSpec(eval_suite=suite), tmp_path / "out", "kansai@v2")
    assert (res.gate, res.passed, res.failures) == ("eval", True, [])
    seen = {m: n - before.get(m, 0) for m, n in fake.models_seen.items()}
    # greet + dialect on the candidate; nothing on the suite's own model or the current one.
    assert seen.get("kansai@v2") == 2 and not seen.get("prai-demo") and not seen.get("kansai@v1")
    result = json.loads((res.report_dir / "result.json").read_text(encoding="utf-8"))
    assert result["models"] == ["kansai@v2"]
    assert [r["id"] for r in result["results"]] == ["greet", "dialect"]
    assert (res.report_dir / "report.html").is_file()


def test_eval_gate_lists_every_failing_item(fake: FakeOpenAI, suite: Path, tmp_path: Path) -> None:
    [res] = _gates(fake, GateSpec(eval_suite=suite), tmp_path / "out", "kansai@v3")
    assert not res.passed
    assert len(res.failures) == 2
    greet, dialect = res.failures
    assert greet.startswith("eval item greet (model kansai@v3): contains:") and "まいど" in greet
    assert dialect.startswith("eval item dialect (model kansai@v3): contains:") and "やで" in dialect
    assert "max_chars" not in dialect  # only the failing assertion is named


# --- bench gate ---------------------------------------------------------------------------

needs_guidellm = pytest.mark.skipif(importlib.util.find_spec("guidellm") is None,
                                    reason="the bench gate needs the bench extra (GuideLLM)")
# Generous limits: the candidate is about 4x slower end to end; run-to-run noise on a busy
# 2-core machine stays within about 20 %.
# ITL is gated too and equal in both (same per-token delay): it must not be flagged.
LIMITS = {"ttft_p95": 0.5, "e2e_p95": 0.5, "requests_per_s": 0.5, "itl_p95": 0.5}


@pytest.fixture(scope="module")
def slow_gate(fake: FakeOpenAI, tiny_tokenizer: Path,  # noqa: F811
              tmp_path_factory: pytest.TempPathFactory) -> tuple[GateResult, dict[str, int]]:
    """One bench gate, kansai@v1 (current) vs the slower kansai@v4: two GuideLLM runs
    (about 20 s each on 2 cores), shared by the bench tests to keep the module short."""
    spec = GateSpec(bench=True, tokenizer=tiny_tokenizer, max_regression=LIMITS, bench_requests=6)
    before = dict(fake.models_seen)
    [res] = _gates(fake, spec, tmp_path_factory.mktemp("gate") / "out", "kansai@v4")
    return res, {m: n - before.get(m, 0) for m, n in fake.models_seen.items()}


@pytest.mark.slow
@needs_guidellm
def test_bench_gate_refuses_a_slower_candidate(slow_gate: tuple[GateResult, dict[str, int]]) -> None:
    res, sent = slow_gate
    assert res.gate == "bench" and not res.passed
    worse = {f.split()[0]: f for f in res.failures}
    assert set(worse) == {"requests_per_s", "ttft_p95_ms", "e2e_p95_ms"}, res.failures
    assert all(f.endswith(", limit 50%)") for f in res.failures)
    # e.g. "ttft_p95_ms +550.3% (69.63 -> 452.8 ms, limit 50%)": the candidate's first token comes after
    # 450 ms, the current one's after 50 ms. The current p95 of a few requests on a busy CI machine can be
    # 200 ms, so the figures are checked against the fake's delays, not a fixed percentage.
    before, after = (float(x) for x in worse["ttft_p95_ms"].split("(")[1].split(" ms")[0].split(" -> "))
    assert after >= 450 and after - before >= 200, worse["ttft_p95_ms"]
    assert float(worse["ttft_p95_ms"].split()[1].rstrip("%")) > 50
    assert worse["requests_per_s"].split()[1].startswith("-") and " req/s, " in worse["requests_per_s"]
    # 2 warm-up requests + 6 measured per model (GuideLLM may add its own backend check).
    assert sent["kansai@v1"] >= 8 and sent["kansai@v4"] >= 8


@pytest.mark.slow
@needs_guidellm
def test_bench_gate_leaves_equal_metrics_alone_and_writes_reports(
        slow_gate: tuple[GateResult, dict[str, int]]) -> None:
    res, _ = slow_gate
    cmp = json.loads((res.report_dir / "comparison.json").read_text())
    assert (cmp["current"], cmp["candidate"]) == ("kansai@v1", "kansai@v4")
    assert cmp["thresholds"] == {"ttft_p95_ms": 0.5, "e2e_p95_ms": 0.5, "requests_per_s": 0.5, "itl_p95_ms": 0.5}
    itl = next(c for c in cmp["changes"] if c["metric"] == "itl_p95_ms")
    assert itl["threshold"] == 0.5 and not itl["regression"] and abs(itl["change"]) < 0.5
    assert cmp["regressions"] == 3 and cmp["missing_in_new"] == []
    for role, model in (("current", "kansai@v1"), ("candidate", "kansai@v4")):
        summary = json.loads((res.report_dir / role / "summary.json").read_text())
        assert summary["runs"][0]["model"] == model and summary["runs"][0]["benchmarks"][0]["requests_errored"] == 0
        assert (res.report_dir / role / "report.html").is_file()
        assert KEY not in (res.report_dir / role / "runs" / "base" / "scenario.json").read_text()


def test_bench_gate_passes_a_first_promote_without_running(fake: FakeOpenAI, tiny_tokenizer: Path,  # noqa: F811
                                                           tmp_path: Path) -> None:
    before = sum(fake.models_seen.values())
    [res] = _gates(fake, GateSpec(bench=True, tokenizer=tiny_tokenizer), tmp_path / "out", "kansai@v2",
                   current=None)
    assert (res.passed, res.failures, res.notes) == (True, [], ["no current version to compare"])
    assert sum(fake.models_seen.values()) == before


# --- bad input: raised before anything runs ------------------------------------------------


@pytest.mark.parametrize("case", ["missing-suite", "bad-suite", "no-item-for-candidate", "unknown-metric",
                                  "negative-limit", "no-tokenizer", "bad-target",
                                  "missing-ca"])
def test_bad_input_raises_before_any_request(case: str, fake: FakeOpenAI, suite: Path,
                                             tiny_tokenizer: Path, tmp_path: Path) -> None:  # noqa: F811
    ok: dict[str, Any] = {"eval_suite": suite, "bench": True, "tokenizer": tiny_tokenizer}
    target = fake.url
    expected: type[PraiError] = UsageError
    if case == "missing-suite":
        ok["eval_suite"], expected = tmp_path / "nope.yaml", EvalSuiteError
    elif case == "bad-suite":
        (tmp_path / "bad.yaml").write_text("items:\n  - id: x\n    prompt: hi\n", encoding="utf-8")
        ok["eval_suite"], expected = tmp_path / "bad.yaml", EvalSuiteError
    elif case == "no-item-for-candidate":
        (tmp_path / "other.yaml").write_text(
            "items:\n  - {id: x, prompt: hi, models: [samurai], assert: [{contains: a}]}\n", encoding="utf-8")
        ok["eval_suite"] = tmp_path / "other.yaml"
    elif case == "unknown-metric":
        ok["max_regression"] = {"ttft_p95": 0.1, "latency_vibes": 0.1}
    elif case == "negative-limit":
        ok["max_regression"] = {"ttft_p95": -0.1}
    elif case == "no-tokenizer":
        ok["tokenizer"], expected = None, BenchTokenizerMissing
    elif case == "bad-target":
        target = "127.0.0.1:1234"
    ca = tmp_path / "no-ca.pem" if case == "missing-ca" else None
    before = sum(fake.models_seen.values())
    out = tmp_path / "out"
    with pytest.raises(expected) as info:
        run_gates(GateSpec(**ok), target=target, candidate="kansai@v2", current="kansai@v1", out_dir=out,
                  api_key=KEY, ca_bundle=ca)
    assert info.value.hint  # a PraiError with a fix, not a traceback
    if case == "unknown-metric":
        assert "latency_vibes" in str(info.value) and "ttft_p95_ms" in info.value.hint
    assert sum(fake.models_seen.values()) == before and not out.exists()
