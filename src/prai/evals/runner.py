"""Run a suite against an OpenAI-compatible server, score it, diff it against a baseline.

Each item is one non-streaming ``POST /v1/chat/completions`` per model (temperature and
seed from the suite, so answers are repeatable on vLLM), timed end to end. Result format
``prai-eval-result`` version 1 (JSON): see :func:`run_suite`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from prai import __version__
from prai._http import http_client
from prai.errors import BenchResultError, UsageError
from prai.evals.assertions import Answer, check
from prai.evals.suite import Item, Suite


def ask(client: httpx.Client, base_url: str, model: str, item: Item, suite: Suite) -> Answer:
    """Send one item to one model; never raises for HTTP or transport errors (they are answers)."""
    body: dict[str, Any] = {
        "model": model,
        "messages": item.chat_messages(),
        "max_tokens": item.max_tokens or suite.defaults.max_tokens,
        "temperature": suite.defaults.temperature if item.temperature is None else item.temperature,
    }
    if suite.defaults.seed is not None:
        body["seed"] = suite.defaults.seed
    t0 = time.perf_counter()
    try:
        r = client.post(f"{base_url}/v1/chat/completions", json=body, timeout=suite.defaults.timeout_s)
    except httpx.HTTPError as exc:
        return Answer("", (time.perf_counter() - t0) * 1000, 0, "connection_error", type(exc).__name__)
    latency_ms = (time.perf_counter() - t0) * 1000
    try:
        data = r.json()
    except ValueError:
        data = None
    if r.status_code != 200 or not isinstance(data, dict) or "choices" not in data:
        err = (data or {}).get("error") if isinstance(data, dict) else None
        err = err if isinstance(err, dict) else {}
        return Answer("", latency_ms, r.status_code, str(err.get("type") or "http_error"),
                      str(err.get("message") or r.reason_phrase)[:300])
    try:
        content = data["choices"][0]["message"].get("content") or ""
    except (IndexError, KeyError, TypeError, AttributeError):
        return Answer("", latency_ms, r.status_code, "bad_response", "no choices[0].message")
    return Answer(str(content), latency_ms, r.status_code)


def run_suite(
    suite: Suite,
    base_url: str,
    *,
    models: list[str] | None = None,
    api_key: str | None = None,
    ca_bundle: Path | None = None,
    on_item: Callable[[str, str, bool], None] | None = None,
) -> dict[str, Any]:
    """Run every item against every model.

    Args:
        suite: a loaded suite.
        base_url: server URL (``/v1`` suffix allowed).
        models: model/adapter served names (default: the suite's ``models``).
        api_key: Bearer key (never stored in the result).
        ca_bundle: PEM CAs for https (TLS is always verified).
        on_item: progress callback (model, item id, passed).

    Returns:
        ``{"format": "prai-eval-result", "format_version": 1, "suite", "target", "created_at",
        "models", "results": [{"model", "id", "weight", "passed", "latency_ms", "status",
        "content", "error", "assertions": [{"kind", "expected", "passed", "detail"}]}],
        "totals": {model: {"items", "passed", "failed", "score"}}}`` where score is the
        weighted share of passed items (0..1).

    Raises:
        UsageError: no models to run.
    """
    names = models or suite.models
    if not names:
        raise UsageError("no model to evaluate: give --model NAME[,NAME] or `models:` in the suite")
    base = base_url.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    results: list[dict[str, Any]] = []
    # Each request carries the suite's own timeout (suite.defaults.timeout_s).
    with http_client(ca_file=ca_bundle, headers=headers, timeout_s=5.0) as client:
        for model in names:
            for item in suite.items:
                if item.models is not None and model not in item.models:
                    continue
                ans = ask(client, base, model, item, suite)
                outcomes = [check(a, ans) for a in suite.assertions[item.id]]
                passed = all(o.passed for o in outcomes)
                results.append({
                    "model": model, "id": item.id, "weight": item.weight, "passed": passed,
                    "latency_ms": round(ans.latency_ms, 1), "status": ans.status, "content": ans.content,
                    "error": None if ans.ok else {"type": ans.error_type, "message": ans.error_message},
                    "assertions": [o.__dict__ for o in outcomes],
                })
                if on_item:
                    on_item(model, item.id, passed)
    totals: dict[str, dict[str, Any]] = {}
    for model in names:
        rs = [r for r in results if r["model"] == model]
        w = sum(r["weight"] for r in rs)
        totals[model] = {"items": len(rs), "passed": sum(r["passed"] for r in rs),
                         "failed": sum(not r["passed"] for r in rs),
                         "score": (sum(r["weight"] for r in rs if r["passed"]) / w) if w else None}
    return {
        "format": "prai-eval-result", "format_version": 1, "suite": suite.name,
        "target": base, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "prai_version": __version__, "models": names, "results": results, "totals": totals,
    }


def load_result(path: Path) -> dict[str, Any]:
    """A previous ``prai eval`` result (the JSON file, or the directory holding result.json).

    Raises:
        BenchResultError: missing, not JSON, or not a prai-eval-result.
    """
    if path.is_dir():
        path = path / "result.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchResultError(f"{path}: no such file", hint="pass result.json of an earlier `prai eval`") from None
    except (OSError, ValueError) as exc:
        raise BenchResultError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != "prai-eval-result":
        raise BenchResultError(f"{path}: not a prai eval result (format != prai-eval-result)",
                               hint="pass result.json of an earlier `prai eval`")
    return data


def diff_baseline(baseline: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Compare with a baseline result, per (model, item id).

    Returns:
        ``{"newly_failing": [...], "fixed": [...], "still_failing": [...], "new_items": [...]}``,
        each entry ``{"model", "id", "detail"}`` (detail: the first failed assertion).
    """
    before = {(r["model"], r["id"]): r for r in baseline.get("results", [])}
    out: dict[str, list[dict[str, Any]]] = {"newly_failing": [], "fixed": [], "still_failing": [], "new_items": []}
    for r in current.get("results", []):
        key = (r["model"], r["id"])
        fails = [a for a in r.get("assertions", []) if not a["passed"]]
        entry = {"model": r["model"], "id": r["id"],
                 "detail": f"{fails[0]['kind']}: {fails[0]['detail']}" if fails else ""}
        prev = before.get(key)
        if prev is None:
            out["new_items"].append(entry)
        elif prev["passed"] and not r["passed"]:
            out["newly_failing"].append(entry)
        elif not prev["passed"] and r["passed"]:
            out["fixed"].append(entry)
        elif not r["passed"]:
            out["still_failing"].append(entry)
    return out
