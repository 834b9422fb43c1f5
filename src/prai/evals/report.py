"""The eval HTML report, in the bench report's self-contained style (no network)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prai.bench.htmlkit import bar_chart, esc, fmt, page, table


def _mark(ok: bool) -> str:
    return "<span class=\"ok\">PASS</span>" if ok else "<span class=\"bad\">FAIL</span>"


def render_eval_report(result: Mapping[str, Any]) -> str:
    """One HTML string: per-model scores, latency chart, baseline diff, every item."""
    totals = result.get("totals", {})
    models = list(totals)
    meta = (f"suite <code>{esc(result.get('suite'))}</code> · target <code>{esc(result.get('target'))}</code> · "
            f"{esc(result.get('created_at'))} · prai {esc(result.get('prai_version'))}")
    parts = ["<h2>Scores</h2>", table(
        ["model", "items", "passed", "failed", "score (weighted)"],
        [[esc(m), esc(t["items"]), esc(t["passed"]), esc(t["failed"]),
          esc(fmt(None if t["score"] is None else t["score"] * 100)) + " %"] for m, t in totals.items()])]
    parts.append("<div class=\"charts\">")
    parts.append(bar_chart("Score per model", models,
                           {"score %": [None if totals[m]["score"] is None else totals[m]["score"] * 100
                                        for m in models]}, "%"))
    ids = list(dict.fromkeys(r["id"] for r in result.get("results", [])))
    lat = {m: [next((r["latency_ms"] for r in result["results"] if r["model"] == m and r["id"] == i), None)
               for i in ids] for m in models}
    parts.append(bar_chart("Latency per item", ids, lat, "ms", width=max(560, 40 * len(ids) * max(1, len(models))
                                                                       // 2 + 200), height=320))
    parts.append("</div>")
    diff = result.get("baseline_diff")
    if diff is not None:
        parts.append(f"<h2>Against the baseline</h2><p class=\"meta\">baseline "
                     f"<code>{esc(result.get('baseline'))}</code></p>")
        for key, title in (("newly_failing", "Newly failing"), ("fixed", "Fixed"),
                           ("still_failing", "Still failing"), ("new_items", "New items")):
            rows = diff.get(key, [])
            parts.append(f"<h3>{title} ({len(rows)})</h3>")
            if rows:
                parts.append(table(["model", "item", "first failed assertion"],
                                   [[esc(r["model"]), esc(r["id"]), esc(r["detail"])] for r in rows], left=3))
    parts.append("<h2>Items</h2>")
    rows = []
    for r in result.get("results", []):
        checks = "<br>".join(f"{_mark(a['passed'])} {esc(a['kind'])}: {esc(a['detail'])}" for a in r["assertions"])
        answer = esc(r["content"]) if not r.get("error") else (
            f"<span class=\"bad\">{esc(r['error'].get('type'))}</span> {esc(r['error'].get('message'))}")
        rows.append([esc(r["model"]), esc(r["id"]), _mark(r["passed"]), f"<pre>{answer}</pre>", checks,
                     esc(fmt(r["latency_ms"]))])
    parts.append(table(["model", "item", "result", "answer", "assertions", "ms"], rows, left=5))
    return page("PrAI eval report", "".join(parts), meta)
