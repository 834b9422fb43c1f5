"""`prai eval`: question suites carried in as files, assertions, scores and a baseline diff.

Public surface (lazy imports):

* :func:`load_suite` (path) -> :class:`Suite`
* :func:`run_suite` (suite, base_url, models=..., api_key=...) -> result dict
* :func:`diff_baseline`, :func:`load_result`, :func:`render_eval_report`
* :func:`run_eval` — the whole `prai eval` (run, diff, write result.json + report.html)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prai._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "load_suite": "suite",
    "parse_suite": "suite",
    "Suite": "suite",
    "run_suite": "runner",
    "diff_baseline": "runner",
    "load_result": "runner",
    "run_eval": "api",
    "EvalRun": "api",
    "render_eval_report": "report",
})

if TYPE_CHECKING:
    from .api import EvalRun, run_eval
    from .report import render_eval_report
    from .runner import diff_baseline, load_result, run_suite
    from .suite import Suite, load_suite, parse_suite


__all__ = [
    "EvalRun",
    "Suite",
    "diff_baseline",
    "load_result",
    "load_suite",
    "parse_suite",
    "render_eval_report",
    "run_eval",
    "run_suite",
]
