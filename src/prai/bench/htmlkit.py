"""Self-contained HTML pieces: a page shell with inline CSS and inline SVG charts.

Nothing here references a network resource: no scripts, fonts, images or style sheets
from anywhere; every chart is an ``<svg>`` element written into the page. Used by the
bench report (:mod:`prai.bench.report`) and the eval report (:mod:`prai.evals.report`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777")

CSS = """
:root{--fg:#1f2937;--mut:#6b7280;--bd:#e5e7eb;--ok:#15803d;--bad:#b91c1c}
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans","Noto Sans JP",Meiryo,sans-serif;
color:var(--fg);margin:0;padding:24px 32px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--bd);
padding-bottom:4px}h3{font-size:14px;margin:16px 0 6px}
.meta{color:var(--mut);font-size:13px}.meta code{color:var(--fg)}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0 12px}
th,td{border:1px solid var(--bd);padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f9fafb;position:sticky;top:0}td.l,th.l{text-align:left;white-space:normal}
.ok{color:var(--ok);font-weight:600}.bad{color:var(--bad);font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:18px}.chart{border:1px solid var(--bd);border-radius:6px;padding:6px;
max-width:100%;overflow-x:auto}
svg text{font-family:inherit}.scroll{overflow-x:auto}
details{margin:4px 0}pre{white-space:pre-wrap;font-size:12px;background:#f9fafb;padding:6px;margin:4px 0}
"""


def esc(value: object) -> str:
    """HTML-escape any value (None -> empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


def fmt(value: object, digits: int = 3) -> str:
    """Numbers to short text (3 significant digits by default); None -> ``–``."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}g}"
    return str(value)


def page(title: str, body: str, meta: str = "") -> str:
    """A complete HTML document with the inline style sheet."""
    return (
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1><div class=\"meta\">{meta}</div>{body}</body></html>\n"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A table; cells are already-escaped HTML; the first ``left`` columns align left."""
    head = "".join(f"<th class=\"l\">{h}</th>" if i < left else f"<th>{h}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td class=\"l\">{c}</td>" if i < left else f"<td>{c}</td>" for i, c in enumerate(r))
        + "</tr>" for r in rows)
    return f"<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _axes(w: int, h: int, pad: tuple[int, int, int, int], ymax: float, ylabel: str, title: str) -> list[str]:
    left, right, top, bottom = pad
    out = [f"<text x=\"{w / 2:.0f}\" y=\"14\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\">"
           f"{esc(title)}</text>"]
    for i in range(5):
        v = ymax * i / 4
        y = h - bottom - (h - top - bottom) * i / 4
        out.append(f"<line x1=\"{left}\" x2=\"{w - right}\" y1=\"{y:.1f}\" y2=\"{y:.1f}\" stroke=\"#e5e7eb\"/>")
        out.append(f"<text x=\"{left - 4}\" y=\"{y + 4:.1f}\" text-anchor=\"end\" font-size=\"10\">{fmt(v)}</text>")
    out.append(f"<text x=\"12\" y=\"{(h - bottom + top) / 2:.0f}\" font-size=\"11\" text-anchor=\"middle\" "
               f"transform=\"rotate(-90 12 {(h - bottom + top) / 2:.0f})\">{esc(ylabel)}</text>")
    return out


def _legend(names: Sequence[str], x: int, y: int) -> list[str]:
    out = []
    for i, n in enumerate(names):
        yy = y + 14 * i
        out.append(f"<rect x=\"{x}\" y=\"{yy - 8}\" width=\"10\" height=\"10\" fill=\"{PALETTE[i % len(PALETTE)]}\"/>"
                   f"<text x=\"{x + 14}\" y=\"{yy + 1}\" font-size=\"11\">{esc(n)}</text>")
    return out


def bar_chart(title: str, categories: Sequence[str], series: Mapping[str, Sequence[float | None]],
              ylabel: str, width: int = 560, height: int = 260) -> str:
    """Grouped bars: one group per category, one bar per series (None = no bar)."""
    rotate = len(categories) > 6
    pad = (54, 110, 24, 100 if rotate else 46)
    values = [v for s in series.values() for v in s if v is not None]
    ymax = _nice_max(max(values) if values else 1.0)
    plot_w = width - pad[0] - pad[1]
    plot_h = height - pad[2] - pad[3]
    out = _axes(width, height, pad, ymax, ylabel, title)
    n_cat, n_ser = max(1, len(categories)), max(1, len(series))
    group_w = plot_w / n_cat
    bar_w = max(2.0, group_w * 0.8 / n_ser)
    for ci, cat in enumerate(categories):
        gx = pad[0] + group_w * ci + group_w * 0.1
        for si, (name, vals) in enumerate(series.items()):
            v = vals[ci] if ci < len(vals) else None
            if v is None:
                continue
            bh = plot_h * (v / ymax)
            x = gx + bar_w * si
            out.append(f"<rect x=\"{x:.1f}\" y=\"{height - pad[3] - bh:.1f}\" width=\"{bar_w - 1:.1f}\" "
                       f"height=\"{bh:.1f}\" fill=\"{PALETTE[si % len(PALETTE)]}\"><title>{esc(name)} "
                       f"{esc(cat)}: {fmt(v)}</title></rect>")
        lx, ly = gx + group_w * 0.4, height - pad[3] + 14
        out.append(f"<text x=\"{lx:.1f}\" y=\"{ly}\" font-size=\"11\" "
                   + (f"text-anchor=\"end\" transform=\"rotate(-40 {lx:.1f} {ly})\">" if rotate
                      else "text-anchor=\"middle\">") + f"{esc(cat)}</text>")
    out += _legend(list(series), width - pad[1] + 8, pad[2] + 10)
    return _svg(width, height, out, title)


def line_chart(title: str, series: Mapping[str, Sequence[tuple[float, float]]], xlabel: str, ylabel: str,
               width: int = 560, height: int = 260, ymax: float | None = None) -> str:
    """Lines with point markers; x and y linear, from 0."""
    pad = (54, 110, 24, 46)
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s]
    xmax = _nice_max(max(xs) if xs else 1.0)
    ytop = ymax if ymax is not None else _nice_max(max(ys) if ys else 1.0)
    plot_w = width - pad[0] - pad[1]
    plot_h = height - pad[2] - pad[3]
    out = _axes(width, height, pad, ytop, ylabel, title)
    for i in range(5):
        v = xmax * i / 4
        x = pad[0] + plot_w * i / 4
        out.append(f"<text x=\"{x:.1f}\" y=\"{height - pad[3] + 14}\" text-anchor=\"middle\" "
                   f"font-size=\"10\">{fmt(v)}</text>")
    out.append(f"<text x=\"{pad[0] + plot_w / 2:.0f}\" y=\"{height - 8}\" text-anchor=\"middle\" "
               f"font-size=\"11\">{esc(xlabel)}</text>")
    for si, pts in enumerate(series.values()):
        color = PALETTE[si % len(PALETTE)]
        coords = [(pad[0] + plot_w * x / xmax, height - pad[3] - plot_h * min(y, ytop) / ytop) for x, y in pts]
        if len(coords) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            out.append(f"<polyline points=\"{d}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.8\"/>")
        if len(coords) <= 40:
            out += [f"<circle cx=\"{x:.1f}\" cy=\"{y:.1f}\" r=\"3\" fill=\"{color}\"/>" for x, y in coords]
    out += _legend(list(series), width - pad[1] + 8, pad[2] + 10)
    return _svg(width, height, out, title)


def _svg(w: int, h: int, parts: list[str], title: str) -> str:
    return (f"<div class=\"chart\"><svg width=\"{w}\" height=\"{h}\" "
            f"viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{esc(title)}\">" + "".join(parts) + "</svg></div>")
