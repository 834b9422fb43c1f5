"""Parsing of `prai bench`'s small option languages (SLOs, adapter mix, data, thresholds).

Every parser raises :class:`prai.errors.UsageError` naming the option and the fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from prai.errors import UsageError

_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ms|s|us|µs)?\s*$")

#: ``--slo`` keys -> GuideLLM ``GoodputSLO`` fields (milliseconds).
SLO_KEYS = {"ttft": "ttft_ms", "tpot": "tpot_ms", "itl": "tpot_ms", "e2e": "e2el_ms", "e2el": "e2el_ms"}


def _pairs(text: str, option: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise UsageError(f"{option} {text!r}: {part!r} is not KEY=VALUE")
        k, v = part.split("=", 1)
        out.append((k.strip(), v.strip()))
    if not out:
        raise UsageError(f"{option} is empty")
    return out


def parse_duration_ms(value: str, option: str = "--slo") -> float:
    """``"500ms"`` / ``"0.5s"`` / ``"500"`` (ms) -> milliseconds (float > 0)."""
    m = _DURATION.match(value)
    if not m:
        raise UsageError(f"{option}: {value!r} is not a duration", hint="write e.g. 500ms or 2s")
    num, unit = float(m.group(1)), (m.group(2) or "ms")
    ms = num * {"ms": 1.0, "s": 1000.0, "us": 0.001, "µs": 0.001}[unit]
    if ms <= 0:
        raise UsageError(f"{option}: {value!r} must be more than zero")
    return ms


def parse_slo(text: str | None) -> dict[str, float] | None:
    """``"ttft=500ms,tpot=50ms,e2e=10s"`` -> GuideLLM GoodputSLO dict in milliseconds.

    ``tpot`` (alias ``itl``) is compared by GuideLLM against each request's inter-token
    latency (first token excluded), see docs/bench.md.
    """
    if not text:
        return None
    slo: dict[str, float] = {}
    for k, v in _pairs(text, "--slo"):
        key = SLO_KEYS.get(k.lower())
        if key is None:
            raise UsageError(f"--slo: unknown objective {k!r}", hint="use ttft, tpot (or itl) and e2e")
        slo[key] = parse_duration_ms(v)
    return slo


def parse_mix(text: str) -> dict[str, float]:
    """``"kansai=0.5,samurai=0.5"`` -> normalised weights (sum 1.0), order kept."""
    weights: dict[str, float] = {}
    for k, v in _pairs(text, "--adapter-mix"):
        try:
            w = float(v.rstrip("%")) / (100.0 if v.endswith("%") else 1.0)
        except ValueError:
            raise UsageError(f"--adapter-mix: weight {v!r} of {k!r} is not a number") from None
        if w <= 0:
            raise UsageError(f"--adapter-mix: weight of {k!r} must be more than zero")
        if k in weights:
            raise UsageError(f"--adapter-mix: {k!r} is named twice")
        weights[k] = w
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items()}


def parse_adapters(text: str | None) -> list[str]:
    """``"a,b"`` -> ``["a", "b"]`` (empty names dropped, duplicates rejected)."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if len(set(names)) != len(names):
        raise UsageError(f"--adapters {text!r}: a name is given twice")
    return names


def _number(v: str) -> int | float | str:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


def parse_data(text: str) -> dict[str, Any]:
    """``--data`` -> one GuideLLM data source.

    ``synthetic:prompt_tokens=256,output_tokens=128`` (any GuideLLM ``synthetic_text``
    field, e.g. ``prompt_tokens_stdev``) or a local file: ``.jsonl``/``.json`` (one object
    per line with ``prompt`` and optionally ``output_tokens_count``), ``.csv``, ``.txt``
    (one prompt per line), ``.parquet``. Hub dataset ids are refused (closed network).
    """
    if text.startswith("synthetic"):
        rest = text.split(":", 1)[1] if ":" in text else ""
        spec: dict[str, Any] = {"kind": "synthetic_text", "prompt_tokens": 256, "output_tokens": 128}
        if rest:
            spec.update({k: _number(v) for k, v in _pairs(rest, "--data")})
        return spec
    path = Path(text).expanduser()
    if not path.is_file():
        raise UsageError(
            f"--data {text!r}: no such file",
            hint="give synthetic:prompt_tokens=N,output_tokens=M or a local .jsonl/.csv/.txt file "
            "carried into the closed network (hub datasets cannot be downloaded)",
        )
    kinds = {".jsonl": "json_file", ".json": "json_file", ".csv": "csv_file", ".txt": "text_file",
             ".parquet": "parquet_file"}
    kind = kinds.get(path.suffix.lower())
    if kind is None:
        raise UsageError(f"--data {text!r}: unsupported file type {path.suffix!r}",
                         hint="use .jsonl, .json, .csv, .txt or .parquet")
    return {"kind": kind, "path": str(path.resolve())}


def parse_thresholds(text: str | None) -> dict[str, float]:
    """``"ttft_p95=10%,output_tokens_per_s=5%"`` -> fractions (0.10, 0.05)."""
    if not text:
        return {}
    out: dict[str, float] = {}
    for k, v in _pairs(text, "--max-regression"):
        try:
            out[k] = float(v.rstrip("%")) / 100.0 if v.endswith("%") else float(v)
        except ValueError:
            raise UsageError(f"--max-regression: {v!r} of {k!r} is not a percentage",
                             hint="write e.g. ttft_p95=10%") from None
        if out[k] < 0:
            raise UsageError(f"--max-regression: {k!r} must not be negative")
    return out


def parse_rates(text: str | None) -> list[float]:
    """``"1,2,4"`` -> ``[1.0, 2.0, 4.0]`` (requests/s, or streams for ``concurrent``)."""
    if not text:
        return []
    try:
        rates = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--rate {text!r}: give numbers separated by commas") from None
    if any(r <= 0 for r in rates):
        raise UsageError(f"--rate {text!r}: every rate must be more than zero")
    return rates
