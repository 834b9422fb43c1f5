"""Audit records as export rows, CSV (RFC 4180) or JSON Lines: one format for
`prai audit export` and the console's export.

Columns (:data:`EXPORT_FIELDS`): ``seq``, ``time`` (ISO 8601, UTC, microseconds), the audit
fields with their ``*_us`` durations in milliseconds, and ``hash`` (the record's link in
the hash chain).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from prai.db.schema import AUDIT_FIELDS

#: Export columns: the audit fields with times in ms and ISO time, plus seq and hash.
EXPORT_FIELDS: tuple[str, ...] = (
    "seq",
    "time",
    *(f.replace("_us", "_ms") for f in AUDIT_FIELDS if f not in ("rid", "ts_us")),
    "hash",
)

#: Formats :func:`export_text` writes.
EXPORT_FORMATS = ("jsonl", "csv")

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def iso_time(ts: float | None, micro: bool = False) -> str | None:
    """Epoch seconds as ISO 8601 in UTC (seconds, or microseconds with ``micro``); None stays None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds" if micro else "seconds")


def export_row(rec: dict[str, Any]) -> dict[str, Any]:
    """One audit table row (a mapping of its columns) as an export row keyed by
    :data:`EXPORT_FIELDS`: durations in ms (3 decimals), ``guard`` parsed, ``stream`` a bool."""

    def ms(us: Any) -> float | None:
        return None if us is None else round(us / 1000, 3)

    out = {
        "seq": rec["seq"],
        "time": iso_time(rec["ts_us"] / 1e6, micro=True),
        "ttft_ms": ms(rec["ttft_us"]),
        "latency_ms": ms(rec["latency_us"]),
        "gateway_ms": ms(rec["gateway_us"]),
    }
    for k in EXPORT_FIELDS:
        if k not in out:
            v = rec.get(k)
            out[k] = json.loads(v) if k == "guard" and v else v
    out["stream"] = bool(out["stream"])
    return {k: out[k] for k in EXPORT_FIELDS}


def csv_cell(v: Any) -> Any:
    """A CSV cell that spreadsheets show as text: ``'`` before a formula-like string."""
    if isinstance(v, str) and v.startswith(_FORMULA_START):
        return "'" + v
    return v


def export_text(records: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """Audit table rows as export text, one string per record (CSV: the header first).

    Args:
        records: audit table rows as mappings, in the order to write.
        fmt: ``"jsonl"`` (one JSON object per line, UTF-8 kept) or ``"csv"`` (RFC 4180,
            CRLF line ends, a CR or LF inside a cell quoted, formula-like cells prefixed
            with ``'``, ``guard`` as JSON text).

    Raises:
        ValueError: ``fmt`` is not one of :data:`EXPORT_FORMATS` (callers check it first
            and raise their own usage error).
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"export format {fmt!r}: use jsonl or csv")
    if fmt == "jsonl":
        for rec in records:
            yield json.dumps(export_row(rec), ensure_ascii=False) + "\n"
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=EXPORT_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for rec in records:
        row = export_row(rec)
        if row["guard"] is not None:
            row["guard"] = json.dumps(row["guard"], ensure_ascii=False)
        writer.writerow({k: csv_cell(v) for k, v in row.items()})
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.getvalue():
        yield buf.getvalue()


__all__ = ["EXPORT_FIELDS", "EXPORT_FORMATS", "csv_cell", "export_row", "export_text", "iso_time"]
