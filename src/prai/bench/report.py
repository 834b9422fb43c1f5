"""The bench HTML report: summary table, latency distributions, sweeps, per-adapter comparison.

Self-contained (:mod:`prai.bench.htmlkit`): opens from disk with no network. Per-request
latency distributions (empirical CDFs) come from GuideLLM's JSON under ``OUT/runs/``
when present; everything else from the PrAI summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from prai.bench.htmlkit import bar_chart, esc, fmt, line_chart, page, table
from prai.bench.summary import flat_rows, request_latencies

_TABLE_COLS = [
    ("run", "run"), ("adapter", "adapter"), ("strategy", "strategy"), ("rate", "rate"),
    ("requests_successful", "ok"), ("requests_errored", "err"), ("requests_incomplete", "incompl."),
    ("requests_per_s", "req/s"), ("output_tokens_per_s", "out tok/s"), ("concurrency_mean", "conc."),
    ("ttft_p50_ms", "TTFT p50"), ("ttft_p95_ms", "TTFT p95"), ("ttft_p99_ms", "TTFT p99"),
    ("itl_p50_ms", "ITL p50"), ("itl_p95_ms", "ITL p95"), ("tpot_p50_ms", "TPOT p50"),
    ("tpot_p95_ms", "TPOT p95"), ("e2e_p50_ms", "E2E p50"), ("e2e_p95_ms", "E2E p95"),
    ("e2e_p99_ms", "E2E p99"), ("goodput_per_s", "goodput/s"), ("slo_attainment", "SLO %"),
]


def _cell(key: str, v: Any) -> str:
    if key == "slo_attainment" and isinstance(v, int | float):
        return esc(f"{v * 100:.1f}")
    return esc(fmt(v))


def _label(run: str, row: Mapping[str, Any], multi: bool) -> str:
    """``run`` alone, or ``run strategy@rate`` when the run has several benchmarks."""
    if not multi:
        return run
    rate = row.get("rate")
    return f"{run} {row.get('strategy') or ''}" + (f"@{fmt(rate)}" if rate else "")


def _cdf(values: list[float], points: int = 60) -> list[tuple[float, float]]:
    s = sorted(values)
    if not s:
        return []
    step = max(1, len(s) // points)
    pts = [(s[i], (i + 1) / len(s)) for i in range(0, len(s), step)]
    if pts[-1][1] < 1.0:
        pts.append((s[-1], 1.0))
    return pts


def _load_run_json(out_dir: Path | None, run: Mapping[str, Any]) -> dict[str, Any] | None:
    if out_dir is None or not run.get("guidellm_json"):
        return None
    from prai.bench.summary import load_guidellm_report
    from prai.errors import BenchResultError

    try:
        return load_guidellm_report(out_dir / run["guidellm_json"])
    except BenchResultError:
        return None


def render_report(summary: Mapping[str, Any], out_dir: Path | None = None) -> str:
    """The report as one HTML string.

    Args:
        summary: a PrAI bench summary (``summary.json``).
        out_dir: the output directory, for the per-request data in ``runs/*/benchmarks.json``.
    """
    runs = list(summary.get("runs", []))
    rows = flat_rows(summary)
    slo = summary.get("slo") or {}
    meta = (
        f"target <code>{esc(summary.get('target'))}</code> · model <code>{esc(summary.get('model'))}</code> · "
        f"profile <code>{esc(summary.get('profile'))}</code> · data <code>{esc(summary.get('data'))}</code> · "
        f"SLO <code>{esc(slo or 'none')}</code> · {esc(summary.get('created_at'))} · "
        f"prai {esc(summary.get('prai_version'))} · GuideLLM {esc(summary.get('guidellm_version'))}"
    )
    parts: list[str] = ["<h2>Summary</h2>",
                        "<p class=\"meta\">Latencies in ms (GuideLLM definitions: docs/bench.md); "
                        "rate in requests/s or streams; SLO % = share of requests meeting every objective.</p>"]
    parts.append(table([h for _, h in _TABLE_COLS],
                       [[_cell(k, r.get(k)) for k, _ in _TABLE_COLS] for r in rows], left=3))

    # Latency distributions: per-request CDFs per run (first benchmark of each run).
    dists: dict[str, dict[str, list[tuple[float, float]]]] = {"ttft": {}, "itl": {}, "e2e": {}}
    for run in runs:
        report = _load_run_json(out_dir, run)
        if not report or not report.get("benchmarks"):
            continue
        rows_of_run = run.get("benchmarks", [])
        for b_index, bench in enumerate(report["benchmarks"]):
            row = rows_of_run[b_index] if b_index < len(rows_of_run) else {}
            label = _label(run["name"], row, len(report["benchmarks"]) > 1)
            for key in dists:
                pts = _cdf(request_latencies(bench, key))
                if pts:
                    dists[key][label] = pts
    if any(dists.values()):
        parts.append("<h2>Latency distributions</h2><p class=\"meta\">Empirical CDF of successful requests "
                     "(share of requests at or below a latency).</p><div class=\"charts\">")
        names = {"ttft": "TTFT", "itl": "ITL", "e2e": "E2E latency"}
        for key, series in dists.items():
            if series:
                parts.append(line_chart(f"{names[key]} CDF", series, f"{names[key]} (ms)", "share of requests",
                                        ymax=1.0))
        parts.append("</div>")

    # Percentile bars per run.
    base_rows = [r for r in rows if not r.get("adapter")]
    if base_rows:
        labels = [_label(r["run"], r, sum(1 for x in base_rows if x["run"] == r["run"]) > 1) for r in base_rows]
        parts.append("<h2>Latency percentiles per run</h2><div class=\"charts\">")
        for key, title in (("ttft", "TTFT"), ("itl", "ITL"), ("e2e", "E2E latency")):
            bars = {q: [r.get(f"{key}_{q}_ms") for r in base_rows] for q in ("p50", "p90", "p95", "p99")}
            parts.append(bar_chart(f"{title} percentiles", labels, bars, "ms"))
        parts.append("</div>")

    # Sweeps / several rates: TTFT and throughput against rate.
    multi = [run for run in runs if len(run.get("benchmarks", [])) > 1]
    if multi:
        parts.append("<h2>Against rate</h2><div class=\"charts\">")
        streams = summary.get("profile") == "concurrent"
        xlabel = "concurrent streams" if streams else "achieved requests/s"

        def x_of(b: Mapping[str, Any]) -> float:
            return float((b.get("rate") if streams else b.get("requests_per_s")) or 0.0)

        ttft = {f"{run['name']} p50": [(x_of(b), b["ttft_p50_ms"]) for b in run["benchmarks"]
                                       if b.get("ttft_p50_ms") is not None] for run in multi}
        ttft |= {f"{run['name']} p95": [(x_of(b), b["ttft_p95_ms"]) for b in run["benchmarks"]
                                        if b.get("ttft_p95_ms") is not None] for run in multi}
        tput = {run["name"]: [(x_of(b), b["output_tokens_per_s"]) for b in run["benchmarks"]
                              if b.get("output_tokens_per_s") is not None] for run in multi}
        ttft = {k: sorted(v) for k, v in ttft.items()}
        tput = {k: sorted(v) for k, v in tput.items()}
        parts.append(line_chart("TTFT against rate", ttft, xlabel, "TTFT (ms)"))
        parts.append(line_chart("Output throughput against rate", tput, xlabel, "tokens/s"))
        parts.append("</div>")

    # Per-adapter comparison: adapter runs side by side, and the mix split per adapter.
    compare = [r for r in rows if r.get("index", 0) == 0]
    if len(compare) > 1:
        labels = [f"{r['run']}:{r['adapter']}" if r.get("adapter") else r["run"] for r in compare]
        parts.append("<h2>Per-adapter comparison</h2><p class=\"meta\">Each run's first benchmark; "
                     "<code>mix:NAME</code> is that adapter's share of the combined run.</p><div class=\"charts\">")
        parts.append(bar_chart("TTFT", labels, {"p50": [r.get("ttft_p50_ms") for r in compare],
                                                "p95": [r.get("ttft_p95_ms") for r in compare]}, "ms"))
        parts.append(bar_chart("Output tokens/s", labels,
                               {"tokens/s": [r.get("output_tokens_per_s") for r in compare]}, "tokens/s"))
        parts.append(bar_chart("E2E latency", labels, {"p50": [r.get("e2e_p50_ms") for r in compare],
                                                       "p95": [r.get("e2e_p95_ms") for r in compare]}, "ms"))
        parts.append("</div>")

    for run in runs:
        if run.get("weights"):
            parts.append(f"<h3>Mix weights ({esc(run['name'])})</h3>" + table(
                ["adapter", "weight", "requests routed"],
                [[esc(a), esc(fmt(w)), esc(run.get("router_sent", {}).get(a, 0))] for a, w in run["weights"].items()]))
    parts.append("<h2>Files</h2>" + table(["run", "GuideLLM JSON (untouched)", "wall s"],
                                           [[esc(r["name"]), esc(r.get("guidellm_json")), esc(fmt(r.get("wall_s")))]
                                            for r in runs]))
    return page("PrAI bench report", "".join(parts), meta)
