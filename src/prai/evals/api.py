"""The whole `prai eval`: load the suite, run it, diff with a baseline, write the outputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prai.bench.runner import write_atomic
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
    """

    result: dict[str, Any]
    newly_failing: list[dict[str, Any]]
    failed: int
    files: list[Path]


def run_eval(suite_path: Path, target: str, out_dir: Path, *, models: list[str] | None = None,
             api_key: str | None = None, baseline: Path | None = None, ca_bundle: Path | None = None,
             on_item: Callable[[str, str, bool], None] | None = None) -> EvalRun:
    """Run `prai eval` and write ``out_dir/result.json`` and ``out_dir/report.html``.

    The baseline is read before anything runs, so a bad baseline path fails fast.

    Raises:
        EvalSuiteError: bad suite. BenchResultError: bad baseline. UsageError: no models.
    """
    suite = load_suite(suite_path)
    base = load_result(baseline) if baseline is not None else None
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
    return EvalRun(result, newly, failed, files)
