"""`prai bench compare BASE NEW`: the differences between two runs and a regression gate.

Rows are matched by (run, adapter, benchmark index). For each metric with a threshold,
the relative change is measured in the *worse* direction (latencies and error counts
up, throughput, goodput and SLO attainment down); a change beyond the threshold is a
regression. Thresholds are fractions (``ttft_p95=10%`` -> 0.10); metric names may omit
the ``_ms`` suffix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prai.bench.summary import COLUMNS, flat_rows
from prai.errors import UsageError

#: Thresholds used when none are given.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "ttft_p95_ms": 0.10,
    "e2e_p95_ms": 0.10,
    "itl_p95_ms": 0.10,
    "output_tokens_per_s": 0.05,
    "requests_per_s": 0.05,
}


@dataclass
class Change:
    """One metric of one matched row.

    Attributes:
        key: ``run[:adapter][#index]``.
        metric: column name (unit in :data:`prai.bench.summary.COLUMNS`).
        base / new: values (None when not measured).
        change: (new - base) / base, signed; None when base is 0 or missing.
        worse_by: the change in the bad direction (> 0 is worse), None when unknown.
        threshold: allowed ``worse_by`` (fraction) or None when not gated.
        regression: worse_by > threshold (or errors appeared where there were none).
    """

    key: str
    metric: str
    base: float | None
    new: float | None
    change: float | None
    worse_by: float | None
    threshold: float | None
    regression: bool


@dataclass
class Comparison:
    """All changes; ``regressions`` are the failing ones; ``missing`` rows only in BASE."""

    changes: list[Change] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[Change]:
        return [c for c in self.changes if c.regression]


def normalise_thresholds(thresholds: Mapping[str, float]) -> dict[str, float]:
    """Accept ``ttft_p95`` for ``ttft_p95_ms``; reject unknown or ungated metrics.

    Raises:
        UsageError: a name that is no comparable column.
    """
    out: dict[str, float] = {}
    for name, value in thresholds.items():
        key = name if name in COLUMNS else f"{name}_ms"
        if key not in COLUMNS or not COLUMNS[key][1]:
            gated = sorted(k for k, v in COLUMNS.items() if v[1])
            raise UsageError(f"--max-regression: unknown metric {name!r}",
                             hint=f"use one of: {', '.join(gated)}")
        out[key] = value
    return out


def _key(r: Mapping[str, Any]) -> str:
    k = r["run"] + (f":{r['adapter']}" if r.get("adapter") else "")
    return k + (f"#{r['index'] + 1}" if r.get("index") else "")


def compare(base: Mapping[str, Any], new: Mapping[str, Any],
            thresholds: Mapping[str, float] | None = None) -> Comparison:
    """Compare two PrAI bench summaries.

    Args:
        base / new: summaries (``summary.json`` contents).
        thresholds: metric -> allowed worsening (fraction); default
            :data:`DEFAULT_THRESHOLDS`. Error counts always gate: new errors where
            BASE had none are a regression.
    """
    limits = normalise_thresholds(thresholds) if thresholds else dict(DEFAULT_THRESHOLDS)
    base_rows = {_key(r): r for r in flat_rows(base)}
    new_rows = {_key(r): r for r in flat_rows(new)}
    result = Comparison(missing=[k for k in base_rows if k not in new_rows])
    metrics = [m for m, spec in COLUMNS.items() if spec[1] in ("lower", "higher")]
    for key, b in base_rows.items():
        n = new_rows.get(key)
        if n is None:
            continue
        for metric in metrics:
            bv, nv = b.get(metric), n.get(metric)
            if bv is None and nv is None:
                continue
            direction = COLUMNS[metric][1]
            change = (nv - bv) / bv if isinstance(bv, int | float) and isinstance(nv, int | float) and bv else None
            worse = None if change is None else (change if direction == "lower" else -change)
            limit = limits.get(metric)
            regression = worse is not None and limit is not None and worse > limit
            appeared = not bv and isinstance(nv, int | float) and nv > 0
            if metric in ("requests_errored", "requests_incomplete") and appeared:
                regression = metric == "requests_errored" or limit is not None
            result.changes.append(Change(key, metric, bv, nv, change, worse, limit, regression))
    return result


def comparison_json(c: Comparison) -> dict[str, Any]:
    """JSON-ready form (for ``--json``)."""
    return {
        "regressions": len(c.regressions),
        "missing_in_new": c.missing,
        "changes": [c_.__dict__ for c_ in c.changes],
    }
