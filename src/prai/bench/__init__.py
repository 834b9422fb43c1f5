"""`prai bench`: load tests on GuideLLM with closed-network defaults, PrAI summaries,
a self-contained HTML report and a regression gate.

Public surface (imports are lazy: GuideLLM runs in a child process, never imported here):

* :class:`BenchOptions`, :func:`run_bench` -> :class:`BenchResult`
* :func:`resolve_tokenizer` (``--tokenizer`` / ``--bundle``)
* :func:`compare` -> :class:`Comparison`; :func:`load_summary`
* :func:`render_report` (summary -> HTML)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prai._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "BenchOptions": "plan",
    "RunSpec": "plan",
    "plan_runs": "plan",
    "resolve_tokenizer": "plan",
    "run_bench": "runner",
    "BenchResult": "runner",
    "Progress": "runner",
    "compare": "gate",
    "Comparison": "gate",
    "load_summary": "summary",
    "render_report": "report",
})

if TYPE_CHECKING:
    from .gate import Comparison, compare
    from .plan import BenchOptions, RunSpec, plan_runs, resolve_tokenizer
    from .report import render_report
    from .runner import BenchResult, Progress, run_bench
    from .summary import load_summary


__all__ = [
    "BenchOptions",
    "BenchResult",
    "Comparison",
    "Progress",
    "RunSpec",
    "compare",
    "load_summary",
    "plan_runs",
    "render_report",
    "resolve_tokenizer",
    "run_bench",
]
