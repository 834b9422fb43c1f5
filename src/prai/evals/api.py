"""The whole `prai eval`: load the suite, run it, diff with a baseline, write the outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prai.bench.runner import write_atomic
from prai.bench.target import check_target
from prai.evals.report import render_eval_report
from prai.evals.runner import diff_baseline, load_result, run_suite
from prai.evals.suite import load_suite


@dataclass
class EvalRun:
    """Outcome of :func:`run_eval`.

    Attributes:
        result: the result dict (also in ``out_dir/result.json``).
        newly_failing: entries of the baseline diff (empty without a baseline).
        failed: number of failed (model, item) pairs.
        files: written files (result.json, report.html).
        first_error: why the first failed item got no answer, one line
            (``prai-demo/greet: HTTP 401: missing API key``, ``…: connection_error: ConnectError``);
            '' when every failed item got an answer (it failed on its assertions).
    """

    result: dict[str, Any]
    newly_failing: list[dict[str, Any]]
    failed: int
    files: list[Path]
    first_error: str = ""


def run_eval(suite_path: Path, target: str, out_dir: Path, *, models: list[str] | None = None,
             api_key: str | None = None, baseline: Path | None = None, ca_bundle: Path | None = None,
             on_item: Callable[[str, str, bool], None] | None = None) -> EvalRun:
    """Run `prai eval` and write ``out_dir/result.json`` and ``out_dir/report.html``.

    The suite and the baseline are read, and the target is checked (it answers
    ``GET /v1/models``, accepts the key and lists every model), before any item is asked,
    so a bad path, a dead server, a missing key or a mistyped model fail fast and write nothing.

    Raises:
        EvalSuiteError: bad suite. BenchResultError: bad baseline. UsageError: no models.
        BenchTargetError: the target is down, refuses the key or does not serve a model (exit 51).
    """
    suite = load_suite(suite_path)
    base = load_result(baseline) if baseline is not None else None
    names = models or suite.models
    if names:
        check_target(target, list(names), api_key=api_key, ca_bundle=ca_bundle)
    result = run_suite(suite, target, models=models, api_key=api_key, ca_bundle=ca_bundle, on_item=on_item)
    newly: list[dict[str, Any]] = []
    if base is not None:
        diff = diff_baseline(base, result)
        result["baseline"] = str(baseline)
        result["baseline_diff"] = diff
        newly = diff["newly_failing"]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "result.json", out_dir / "report.html"]
    write_atomic(files[0], json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_atomic(files[1], render_eval_report(result))
    failed = sum(not r["passed"] for r in result["results"])
    return EvalRun(result, newly, failed, files, _first_error(result["results"]))


def _first_error(results: list[dict[str, Any]]) -> str:
    for r in results:
        err = r.get("error")
        if not r["passed"] and err:
            why = f"HTTP {r['status']}: {err['message']}" if r.get("status") else f"{err['type']}: {err['message']}"
            return f"{r['model']}/{r['id']}: {why}"
    return ""
