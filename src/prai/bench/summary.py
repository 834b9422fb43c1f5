"""PrAI's summary of GuideLLM results: one flat row per benchmark, JSON and CSV.

Source format: GuideLLM 0.8 ``benchmarks.json`` (``GenerativeBenchmarksReport``):
``benchmarks[].metrics.<metric>.<status>`` are distributions (``mean``, ``median``,
``percentiles.p50/p90/p95/p99``...) for status ``successful``/``errored``/``incomplete``/
``total``; ``benchmarks[].requests.<status>[]`` are per-request records. Which GuideLLM
metric each PrAI column is, and its unit, is listed in :data:`COLUMNS` and docs/bench.md.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from prai.errors import BenchResultError

PERCENTILES = ("p50", "p90", "p95", "p99")

#: PrAI latency column prefix -> (GuideLLM metric, scale to milliseconds). Status ``successful``.
LATENCIES: dict[str, tuple[str, float]] = {
    "ttft": ("time_to_first_token_ms", 1.0),
    "itl": ("inter_token_latency_ms", 1.0),
    "tpot": ("time_per_output_token_ms", 1.0),
    "e2e": ("request_latency", 1000.0),
}

#: Column -> (unit, "lower"/"higher" is better, meaning). The CSV columns, in order.
COLUMNS: dict[str, tuple[str, str, str]] = {
    "run": ("", "", "run name: base, an adapter, or mix"),
    "model": ("", "", "model name GuideLLM sent (the mix: base name, rewritten per request)"),
    "adapter": ("", "", "for mix rows split per adapter: the adapter; else empty"),
    "strategy": ("", "", "GuideLLM strategy type"),
    "rate": ("req/s or streams", "", "strategy rate (constant/poisson) or streams (concurrent)"),
    "duration_s": ("s", "", "measured duration (after warmup/cooldown)"),
    "requests_successful": ("requests", "higher", "request_totals.successful"),
    "requests_errored": ("requests", "lower", "request_totals.errored"),
    "requests_incomplete": ("requests", "lower", "request_totals.incomplete (cancelled at the end)"),
    "requests_per_s": ("req/s", "higher", "requests_per_second.successful.mean"),
    "output_tokens_per_s": ("tokens/s", "higher", "output_tokens_per_second.total.mean"),
    "concurrency_mean": ("requests", "", "request_concurrency.total.mean"),
    "goodput_per_s": ("req/s", "higher", "request_goodput.total.mean (requests meeting every SLO)"),
    "slo_attainment": ("fraction", "higher", "slo_attainment (conforming / determined requests)"),
}
for _p, (_metric, _scale) in LATENCIES.items():
    for _q in ("mean", *PERCENTILES):
        COLUMNS[f"{_p}_{_q}_ms"] = ("ms", "lower", f"{_metric}.successful.{_q}")


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float) and math.isfinite(v):
        return float(v)
    return None


def _dist(metrics: Mapping[str, Any], name: str, status: str) -> Mapping[str, Any]:
    d = metrics.get(name) or {}
    return (d.get(status) or {}) if isinstance(d, Mapping) else {}


def _stat(dist: Mapping[str, Any], q: str, scale: float = 1.0) -> float | None:
    if not dist or not dist.get("count"):
        return None
    v = _num(dist.get("mean")) if q == "mean" else _num((dist.get("percentiles") or {}).get(q))
    return None if v is None else v * scale


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (``q`` in 0..100), as numpy's default; None if empty."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def benchmark_row(bench: Mapping[str, Any]) -> dict[str, Any]:
    """One GuideLLM benchmark -> one PrAI row (keys of :data:`COLUMNS`, run/model unset)."""
    m = bench.get("metrics") or {}
    strategy = ((bench.get("config") or {}).get("strategy") or {})
    totals = m.get("request_totals") or {}
    row: dict[str, Any] = {
        "strategy": strategy.get("type_"),
        "rate": _num(strategy.get("rate")) or _num(strategy.get("streams")),
        "duration_s": _num(bench.get("duration")),
        "requests_successful": totals.get("successful", 0),
        "requests_errored": totals.get("errored", 0),
        "requests_incomplete": totals.get("incomplete", 0),
        "requests_per_s": _num(_dist(m, "requests_per_second", "successful").get("mean")),
        "output_tokens_per_s": _num(_dist(m, "output_tokens_per_second", "total").get("mean")),
        "concurrency_mean": _num(_dist(m, "request_concurrency", "total").get("mean")),
        "goodput_per_s": _num(_dist(m, "request_goodput", "total").get("mean"))
        if m.get("slo_attainment") is not None else None,
        "slo_attainment": _num(m.get("slo_attainment")),
    }
    for prefix, (metric, scale) in LATENCIES.items():
        dist = _dist(m, metric, "successful")
        for q in ("mean", *PERCENTILES):
            row[f"{prefix}_{q}_ms"] = _stat(dist, q, scale)
    return row


def _request_value(rec: Mapping[str, Any], prefix: str) -> float | None:
    metric, scale = LATENCIES[prefix]
    v = _num(rec.get(metric))
    return None if v is None else v * scale


def split_by_adapter(bench: Mapping[str, Any], by_response_id: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per-adapter rows of a mix benchmark, from GuideLLM's per-request records.

    Args:
        bench: one GuideLLM benchmark (with ``requests`` kept: PrAI runs with
            ``sample_size`` unset, so every request is there).
        by_response_id: response id -> adapter, recorded by the mix router.

    Returns:
        adapter -> row with request counts, output tokens/s (output tokens of its
        successful requests / benchmark duration) and latency mean/percentiles (ms).
        Requests whose response id is unknown (e.g. failed before a response) are
        under ``"(unattributed)"``.
    """
    reqs = bench.get("requests") or {}
    duration = _num(bench.get("duration")) or 0.0
    groups: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for status in ("successful", "errored", "incomplete"):
        for rec in reqs.get(status) or []:
            adapter = by_response_id.get(str(rec.get("response_id"))) or "(unattributed)"
            groups.setdefault(adapter, {"successful": [], "errored": [], "incomplete": []})[status].append(rec)
    out: dict[str, dict[str, Any]] = {}
    for adapter, g in sorted(groups.items()):
        ok = g["successful"]
        tokens = sum(_num(r.get("output_tokens")) or 0.0 for r in ok)
        row: dict[str, Any] = {
            "adapter": adapter,
            "requests_successful": len(ok),
            "requests_errored": len(g["errored"]),
            "requests_incomplete": len(g["incomplete"]),
            "requests_per_s": len(ok) / duration if duration else None,
            "output_tokens_per_s": tokens / duration if duration else None,
        }
        for prefix in LATENCIES:
            vals = [v for v in (_request_value(r, prefix) for r in ok) if v is not None]
            row[f"{prefix}_mean_ms"] = sum(vals) / len(vals) if vals else None
            for q in PERCENTILES:
                row[f"{prefix}_{q}_ms"] = percentile(vals, float(q[1:]))
        out[adapter] = row
    return out


def first_request_error(bench: Mapping[str, Any]) -> str:
    """The first errored request's error of one GuideLLM benchmark, as one line, or ''.

    GuideLLM keeps it as ``requests.errored[].info.error`` (``repr`` of the exception, e.g.
    ``HTTPStatusError("Client error '404 Not Found' for url ...")``), given as
    ``HTTPStatusError: Client error '404 Not Found' for url ...``.
    """
    for rec in (bench.get("requests") or {}).get("errored") or []:
        info = rec.get("info") if isinstance(rec, Mapping) else None
        err = (info.get("error") if isinstance(info, Mapping) else None) or (
            rec.get("error") if isinstance(rec, Mapping) else None)
        if err:
            text = re.split(r"(?:\\n|\n)For more information", str(err))[0]
            m = re.match(r"^(\w+)\((['\"])(.*?)(?:\2\))?$", text, re.S)  # HTTPStatusError("...") -> a: ...
            return " ".join((f"{m.group(1)}: {m.group(3)}" if m else text).split())[:300]
    return ""


def request_latencies(bench: Mapping[str, Any], prefix: str) -> list[float]:
    """Per-request values (ms) of one latency (``ttft``/``itl``/``tpot``/``e2e``), successful only."""
    return [v for v in (_request_value(r, prefix) for r in ((bench.get("requests") or {}).get("successful") or []))
            if v is not None]


def load_guidellm_report(path: Path) -> dict[str, Any]:
    """Read GuideLLM's JSON report.

    Raises:
        BenchResultError: missing, not JSON, or without ``benchmarks``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchResultError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise BenchResultError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchResultError(f"{path}: not a GuideLLM report (no 'benchmarks' list)")
    return data


def flat_rows(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every row of a PrAI summary: each run's benchmarks, then mix rows per adapter."""
    rows: list[dict[str, Any]] = []
    for run in summary.get("runs", []):
        for i, b in enumerate(run.get("benchmarks", [])):
            rows.append({"run": run["name"], "model": run["model"], "adapter": "", "index": i, **b})
        for i, per in enumerate(run.get("per_adapter", [])):
            for adapter, row in per.items():
                rows.append({"run": run["name"], "model": run["model"], "index": i, **row, "adapter": adapter})
    return rows


def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Rows -> CSV text, columns of :data:`COLUMNS` (empty cell = not measured)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else (f"{r[k]:.6g}" if isinstance(r[k], float) else r[k]))
                    for k in COLUMNS})
    return buf.getvalue()


def load_summary(path: Path) -> dict[str, Any]:
    """A PrAI ``summary.json`` (or the directory holding it).

    Raises:
        BenchResultError: missing, not JSON, or not a PrAI bench summary.
    """
    if path.is_dir():
        path = path / "summary.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchResultError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise BenchResultError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != "prai-bench-summary":
        raise BenchResultError(f"{path}: not a PrAI bench summary (format != prai-bench-summary)")
    return data
