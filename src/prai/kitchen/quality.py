"""The quality step at the end of `prai demo`: a short GuideLLM bench and an eval run.

`prai demo` (the engine room's command) calls :func:`demo_quality_check` once its server is
healthy; it writes ``OUT/bench/report.html`` and ``OUT/eval/report.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_SUITE = Path(__file__).resolve().parents[1] / "evals" / "demo_suite.yaml"


@dataclass
class DemoQuality:
    """What the demo's quality step measured and wrote.

    Attributes:
        bench_report / eval_report: the two HTML reports.
        rows: bench summary rows (one per model; latencies in ms).
        eval_totals: model -> {items, passed, failed, score}.
        eval_failed: failed (model, item) pairs.
    """

    bench_report: Path
    eval_report: Path
    rows: list[dict[str, Any]]
    eval_totals: dict[str, Any]
    eval_failed: int


def demo_quality_check(base_url: str, model_dir: Path, out_dir: Path, *, model: str = "prai-demo",
                       adapters: tuple[str, ...] = ("kansai", "samurai"), max_requests: int = 3,
                       log: Callable[[str], None] | None = None) -> DemoQuality:
    """Run a tiny synchronous bench (base + each adapter, ``max_requests`` each, 16-token
    prompts and answers) and the demo eval suite against ``base_url``.

    Args:
        base_url: the demo server (``http://127.0.0.1:PORT``).
        model_dir: the demo base model directory (its tokenizer is used; never a hub id).
        out_dir: writes ``bench/`` and ``eval/`` below it.
        log: one line per step (for the demo's console).

    Raises:
        BenchEngineMissing: GuideLLM is not installed (the bench extra).
        BenchRunFailed: a GuideLLM run failed.
    """
    from prai.bench.plan import BenchOptions
    from prai.bench.runner import run_bench
    from prai.bench.summary import flat_rows
    from prai.evals.api import run_eval

    say = log or (lambda line: None)
    say(f"bench: {model} + {', '.join(adapters)}, {max_requests} requests each (GuideLLM)")
    # max_seconds is only a cap (the runs end after max_requests): a busy CPU host can need
    # minutes for a few requests, and a run cut by the cap measures nothing.
    opts = BenchOptions(target=base_url, model=model, tokenizer_dir=model_dir, out_dir=out_dir / "bench",
                        adapters=list(adapters), max_requests=max_requests, max_seconds=300,
                        data={"kind": "synthetic_text", "prompt_tokens": 16, "output_tokens": 16})
    bench = run_bench(opts, run_timeout_s=600)
    say(f"eval: {DEMO_SUITE.name}")
    ev = run_eval(DEMO_SUITE, base_url, out_dir / "eval", models=[model, *adapters])
    return DemoQuality(out_dir / "bench" / "report.html", out_dir / "eval" / "report.html",
                       flat_rows(bench.summary), ev.result["totals"], ev.failed)
