"""`prai eval` against a real loopback server: every assertion kind (pass and fail), models,
weights, JSON + self-contained HTML, the baseline diff and the CLI's exit codes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from prai.errors import EvalSuiteError
from prai.evals import load_suite, run_eval
from prai.evals.assertions import bigram_similarity
from tests.evals.conftest import EVAL_KEY

GREETING = "こんにちは！プライベートAIキッチンへようこそ。今日は何をお手伝いしましょうか？"

SUITE: dict[str, Any] = {
    "name": "kinds",
    "models": ["prai-demo"],
    "items": [
        {"id": "contains", "prompt": "こんにちは", "assert": [{"contains": "プライベートAIキッチン"}]},
        {"id": "contains-fullwidth", "prompt": "こんにちは", "assert": [{"contains": "ＡＩ"}]},  # NFKC
        {"id": "contains-fail", "prompt": "こんにちは", "assert": [{"contains": "まいど"}]},
        {"id": "contains-any", "prompt": "こんにちは", "assert": [{"contains_any": ["まいど", "ようこそ"]}]},
        {"id": "not-contains", "prompt": "こんにちは", "assert": [{"not_contains": ["ござる", "まいど"]}]},
        {"id": "not-contains-fail", "prompt": "こんにちは", "assert": [{"not_contains": "ようこそ"}]},
        {"id": "regex", "prompt": "こんにちは", "assert": [{"regex": "^こんにちは！.+？$"}]},
        {"id": "regex-flags", "prompt": "hi", "assert": [{"regex": {"pattern": "プライベートai", "flags": "i"}}]},
        {"id": "regex-fail", "prompt": "こんにちは", "assert": [{"regex": "^まいど"}]},
        {"id": "equals", "prompt": "こんにちは", "assert": [{"equals": f"  {GREETING}\n"}]},
        {"id": "equals-fail", "prompt": "こんにちは", "assert": [{"equals": "こんにちは"}]},
        {"id": "starts", "prompt": "こんにちは", "assert": [{"starts_with": "こんにちは"}]},
        {"id": "max-chars", "prompt": "こんにちは", "assert": [{"max_chars": len(GREETING)}]},
        {"id": "max-chars-fail", "prompt": "こんにちは", "assert": [{"max_chars": 10}]},
        {"id": "latency", "prompt": "こんにちは", "assert": [{"max_latency_ms": 30000}]},
        {"id": "similar", "prompt": "こんにちは",
         "assert": [{"similar_to": {"reference": "こんにちは！プライベートAIキッチンへようこそ。", "min": 0.6}}]},
        {"id": "similar-fail", "prompt": "こんにちは", "assert": [{"similar_to": "閉域網は閉じたネットワークです"}]},
        {"id": "json-fail", "prompt": "こんにちは", "assert": [{"json_valid": True}]},
        {"id": "not-json", "prompt": "こんにちは", "assert": [{"json_valid": False}]},
        {"id": "guard", "prompt": "私のマイナンバーは 1234 5678 9012 です", "assert": [{"guardrail_block": True}]},
        {"id": "guard-fail", "prompt": "こんにちは", "assert": [{"guardrail_block": True}]},
        {"id": "json", "prompt": "JSON please", "models": ["json-bot"], "weight": 3, "assert": [
            {"json_valid": True},
            {"json_schema": {"type": "object", "required": ["name", "ok"],
                             "properties": {"name": {"type": "string"}, "ok": {"type": "boolean"}}}}]},
        {"id": "json-schema-fail", "prompt": "JSON please", "models": ["json-bot"], "assert": [
            {"json_schema": {"type": "object", "required": ["age"]}}]},
        {"id": "slow", "prompt": "x", "models": ["slow"], "assert": [{"max_latency_ms": 100}]},
        {"id": "server-error", "prompt": "x", "models": ["broken"], "assert": [{"contains": "x"}]},
    ],
}
for _item in SUITE["items"]:
    _item.setdefault("models", ["prai-demo"])
EXPECTED_FAIL = {"contains-fail", "not-contains-fail", "regex-fail", "equals-fail", "max-chars-fail",
                 "similar-fail", "json-fail", "guard-fail", "json-schema-fail", "slow", "server-error"}


@pytest.fixture(scope="module")
def evaluated(upstream, tmp_path_factory: pytest.TempPathFactory) -> Any:  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("eval")
    suite = d / "kinds.yaml"
    suite.write_text(yaml.safe_dump(SUITE, allow_unicode=True), encoding="utf-8")
    run = run_eval(suite, upstream.url, d / "out", models=["prai-demo", "json-bot", "slow", "broken"],
                   api_key=EVAL_KEY)
    return d, run


def test_every_assertion_kind_passes_and_fails_as_expected(evaluated) -> None:  # type: ignore[no-untyped-def]
    _, run = evaluated
    by_id = {r["id"]: r for r in run.result["results"]}
    assert set(by_id) == {i["id"] for i in SUITE["items"]}
    failed = {i for i, r in by_id.items() if not r["passed"]}
    assert failed == EXPECTED_FAIL
    assert by_id["guard"]["error"]["type"] == "guardrail_violation"
    assert "similarity" in by_id["similar-fail"]["assertions"][0]["detail"]
    assert "age" in by_id["json-schema-fail"]["assertions"][0]["detail"]
    assert "HTTP 500" in by_id["server-error"]["assertions"][0]["detail"]


def test_items_run_only_for_their_models_and_weights_count(evaluated) -> None:  # type: ignore[no-untyped-def]
    _, run = evaluated
    totals = run.result["totals"]
    assert totals["json-bot"]["items"] == 2 and totals["json-bot"]["score"] == pytest.approx(3 / 4)
    assert totals["broken"]["score"] == 0.0
    assert run.failed == len(EXPECTED_FAIL)


def test_outputs_json_and_self_contained_html(evaluated) -> None:  # type: ignore[no-untyped-def]
    d, _ = evaluated
    data = json.loads((d / "out" / "result.json").read_text())
    assert data["format"] == "prai-eval-result" and data["results"][0]["content"]
    html = (d / "out" / "report.html").read_text()
    assert "<script" not in html and "<link" not in html and not re.search(r"(src|href)\s*=", html)
    assert "<svg" in html and "プライベートAIキッチン" in html
    assert EVAL_KEY not in html and EVAL_KEY not in (d / "out" / "result.json").read_text()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prai.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**__import__("os").environ, "PRAI_API_KEY": EVAL_KEY})


def test_cli_baseline_diff_lists_newly_failing_items(upstream, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = {"name": "gate", "items": [
        {"id": "greet", "prompt": "こんにちは", "assert": [{"contains": "ようこそ"}]},
        {"id": "style", "prompt": "こんにちは", "assert": [{"not_contains": "まいど"}]},
    ]}
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(suite, allow_unicode=True), encoding="utf-8")
    ok = _cli("eval", str(path), "--target", upstream.url, "--model", "prai-demo", "-o", str(tmp_path / "a"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # "kansai" answers in Kansai dialect: `style` newly fails against the baseline.
    bad = _cli("eval", str(path), "--target", upstream.url, "--model", "kansai", "-o", str(tmp_path / "b"))
    assert bad.returncode == 53 and "FAIL" in bad.stdout
    base = json.loads((tmp_path / "a" / "result.json").read_text())
    for r in base["results"]:
        r["model"] = "kansai"  # the accepted run of the same model
    (tmp_path / "base.json").write_text(json.dumps(base))
    gated = _cli("eval", str(path), "--target", upstream.url, "--model", "kansai",
                 "--baseline", str(tmp_path / "base.json"), "-o", str(tmp_path / "c"))
    assert gated.returncode == 52, gated.stdout + gated.stderr
    assert "newly failing: kansai style" in gated.stdout
    diff = json.loads((tmp_path / "c" / "result.json").read_text())["baseline_diff"]
    assert [e["id"] for e in diff["newly_failing"]] == ["style"]
    assert "Newly failing (1)" in (tmp_path / "c" / "report.html").read_text()
    # Against its own result as baseline nothing is new: exit 0 although an item fails.
    same = _cli("eval", str(path), "--target", upstream.url, "--model", "kansai",
                "--baseline", str(tmp_path / "c" / "result.json"), "-o", str(tmp_path / "d"))
    assert same.returncode == 0, same.stdout + same.stderr


@pytest.mark.parametrize(("item", "message"), [
    ({"id": "a", "prompt": "x", "assert": [{"regex": "("}]}, "assert[0]: regex"),
    ({"id": "a", "prompt": "x", "assert": [{"smells_like": "x"}]}, "unknown assertion"),
    ({"id": "a", "prompt": "x", "assert": []}, "no assertions"),
    ({"id": "a", "assert": [{"contains": "x"}]}, "exactly one of `prompt` or `messages`"),
    ({"id": "a", "prompt": "x", "assert": [{"json_schema": {"type": "nope"}}]}, "not a valid schema"),
    ({"id": "a", "prompt": "x", "weight": -1, "assert": [{"contains": "x"}]}, "weight"),
])
def test_bad_suites_are_named_errors(tmp_path: Path, item: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"items": [item]}), encoding="utf-8")
    with pytest.raises(EvalSuiteError) as exc:
        load_suite(path)
    assert message in str(exc.value) and str(path) in str(exc.value)


def test_cli_bad_suite_exit_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "a", "prompt": "x", "assert": [{"contains": "x"}]}\nnot json\n', encoding="utf-8")
    r = _cli("eval", str(path), "--target", "http://127.0.0.1:9", "--model", "m", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and f"{path}:2: not JSON" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists()


def test_example_suites_load() -> None:
    root = Path(__file__).resolve().parents[2] / "examples" / "evals"
    yaml_suite = load_suite(root / "demo-suite.yaml")
    assert set(yaml_suite.models) == {"prai-demo", "kansai", "samurai"}
    kinds = {a.kind for lst in yaml_suite.assertions.values() for a in lst}
    assert {"contains", "regex", "equals", "not_contains", "similar_to", "max_chars"} <= kinds
    assert len(load_suite(root / "demo-suite.jsonl").items) == 3


def test_similarity_is_local_and_japanese_aware() -> None:
    assert bigram_similarity("こんにちは", "こんにちは") == pytest.approx(1.0)
    assert bigram_similarity("ＡＩキッチン", "AIキッチン") == pytest.approx(1.0)  # NFKC
    assert bigram_similarity("こんにちは", "さようなら") == 0.0
