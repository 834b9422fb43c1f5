"""Promotion gates (seed §12, §15): the checks `prai model promote` can require first.

Two gates, both run against a live OpenAI-compatible ``target`` (an engine replica or the
gateway) on concrete served model names (``kansai@v2``):

* **eval** — a `prai eval` suite on the *candidate* only; every item must pass. Items
  restricted with ``models: [...]`` apply when the list names the candidate
  (``kansai@v2``) or its alias (``kansai``, the part before ``@``); others are skipped.
  Writes ``OUT/eval/result.json`` and ``report.html`` (as `prai eval`).
* **bench** — the same short GuideLLM bench (`prai bench`) on the *current* version, then
  on the candidate, with identical options, compared by :func:`prai.bench.gate.compare`
  (as `prai bench compare CURRENT CANDIDATE --max-regression ...`). Writes
  ``OUT/bench/current/``, ``OUT/bench/candidate/`` (summary.json, summary.csv,
  report.html, runs/) and ``OUT/bench/comparison.json``. With no current version (a first
  promote) the gate passes without running anything.

Everything that can be checked without a request (suite file, thresholds, tokenizer,
GuideLLM installed, bench options) is checked before the first request, and raises.
A gate that fails is *returned* (:class:`GateResult` with one line per failing item or
metric), so the caller can refuse with every failure at once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai._http import http_client
from prai.errors import BenchRunFailed, UsageError

__all__ = ["GateResult", "GateSpec", "check_gates", "run_gates"]

_SHORT_DATA = {"kind": "synthetic_text", "prompt_tokens": 16, "output_tokens": 16}


@dataclass(frozen=True)
class GateSpec:
    """Which gates a promotion requires, and their settings.

    Attributes:
        eval_suite: a `prai eval` suite file (YAML/JSONL); every applicable item must pass
            on the candidate. None: no eval gate.
        bench: run the bench gate (current vs candidate).
        max_regression: metric -> allowed worsening as a fraction (``{"ttft_p95": 0.10}``),
            names as `prai bench compare --max-regression` (``_ms`` may be omitted); None or
            empty: :data:`prai.bench.gate.DEFAULT_THRESHOLDS`. New errors always fail.
        tokenizer: local tokenizer directory for GuideLLM (required with ``bench``; a hub
            id is never used).
        bench_requests: requests per model (GuideLLM ``max_requests``).
        bench_max_seconds: per-model duration limit (s), a safety stop.
        bench_profile: GuideLLM profile (``synchronous``: one request at a time, the least
            noisy on a small machine).
        bench_rates: ``--rate`` values for the profile (requests/s or streams).
        bench_prompt_tokens / bench_output_tokens: synthetic prompt and answer length (tokens).
        bench_timeout_s: wall-clock limit per GuideLLM run (s).
        bench_warmup_requests: short chat completions sent to each model just before its
            run and not measured: a version loaded a moment ago (a LoRA adapter not yet in
            a GPU slot) would otherwise pay its first-request cost inside the p95.

    With the defaults a model run is 8 requests of 16+16 tokens: a few seconds on the CPU
    demo model plus GuideLLM's start-up (about 10 s per run on 2 cores).
    """

    eval_suite: Path | None = None
    bench: bool = False
    max_regression: Mapping[str, float] | None = None
    tokenizer: Path | None = None
    bench_requests: int = 8
    bench_max_seconds: float = 60.0
    bench_profile: str = "synchronous"
    bench_rates: tuple[float, ...] = ()
    bench_prompt_tokens: int = 16
    bench_output_tokens: int = 16
    bench_timeout_s: float = 300.0
    bench_warmup_requests: int = 2


@dataclass
class GateResult:
    """The outcome of one gate.

    Attributes:
        gate: ``"eval"`` or ``"bench"``.
        passed: True when nothing failed.
        failures: one human-readable line per failing item or metric, e.g.
            ``eval item greet (model kansai@v2): contains: missing ['まいど']`` or
            ``ttft_p95_ms +34.0% (12.1 -> 16.2 ms, limit 10%)``.
        report_dir: where the gate's outputs went (``OUT/eval`` or ``OUT/bench``).
        notes: informational lines (e.g. ``no current version to compare``).
    """

    gate: str
    passed: bool
    failures: list[str]
    report_dir: Path
    notes: list[str] = field(default_factory=list)


def run_gates(spec: GateSpec, *, target: str, candidate: str, current: str | None, out_dir: Path,
              api_key: str | None = None, ca_bundle: Path | None = None,
              cache_dir: Path | None = None) -> list[GateResult]:
    """Run the gates ``spec`` asks for: eval first, then bench; every gate runs even when
    an earlier one failed, so the caller can list all failures.

    Args:
        spec: the gates.
        target: OpenAI-compatible base URL (``http://host:8000`` or ``.../v1``).
        candidate: served name of the version to promote (``kansai@v2``).
        current: served name of the version now behind the alias, None for a first promote.
        out_dir: reports go to ``out_dir/eval`` and ``out_dir/bench``.
        api_key: Bearer key for the target (never written to disk).
        ca_bundle: PEM CAs for an https target (TLS is always verified).
        cache_dir: PrAI cache for GuideLLM's ``HF_HOME`` (default from settings).

    Returns:
        One :class:`GateResult` per requested gate (``[]`` when none is requested).

    Raises (before any request):
        EvalSuiteError: the suite file is missing or invalid.
        UsageError: unknown or negative ``max_regression`` metric, no suite item applies to
            the candidate, bad bench options or target.
        BenchTokenizerMissing: bench gate without a local tokenizer directory.
        BenchEngineMissing: bench gate with a current version and GuideLLM is not installed.

    A GuideLLM run that fails (e.g. the candidate is not served) is returned as a failing
    bench gate, not raised; an unreachable eval target fails the items it could not ask.
    """
    if not target.startswith(("http://", "https://")):
        raise UsageError(f"target {target!r}: give an http:// or https:// URL")
    if ca_bundle is not None and not ca_bundle.is_file():
        raise UsageError(f"--ca-bundle {ca_bundle}: no such file", hint="pass the internal CA's PEM file")
    suite = _prepare_suite(spec.eval_suite, candidate) if spec.eval_suite is not None else None
    bench = _prepare_bench(spec, target, out_dir / "bench", api_key, ca_bundle, needs_engine=current is not None) \
        if spec.bench else None
    results: list[GateResult] = []
    if suite is not None:
        results.append(_eval_gate(suite, target, candidate, out_dir / "eval", api_key, ca_bundle))
    if bench is not None:
        results.append(_bench_gate(spec, bench, candidate, current, out_dir / "bench", cache_dir))
    return results


# --- eval ---------------------------------------------------------------------------------


def _prepare_suite(path: Path, candidate: str) -> Any:
    """The suite with only the items for the candidate, their ``models`` filter cleared."""
    from prai.evals.suite import load_suite

    suite = load_suite(path)
    alias = candidate.partition("@")[0]
    items = [i.model_copy(update={"models": None}) for i in suite.items
             if i.models is None or candidate in i.models or alias in i.models]
    if not items:
        raise UsageError(f"{path}: no item of suite {suite.name!r} applies to {candidate} "
                         f"(every item is restricted to other models)",
                         hint=f"add items without `models:` or with `models: [{alias}]`")
    return suite.model_copy(update={"items": items})


def _eval_gate(suite: Any, target: str, candidate: str, out: Path, api_key: str | None,
               ca_bundle: Path | None) -> GateResult:
    from prai.bench.runner import write_atomic
    from prai.evals.report import render_eval_report
    from prai.evals.runner import run_suite

    result = run_suite(suite, target, models=[candidate], api_key=api_key, ca_bundle=ca_bundle)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "result.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out / "report.html", render_eval_report(result))
    failures = []
    for r in result["results"]:
        if r["passed"]:
            continue
        why = "; ".join(f"{a['kind']}: {a['detail']}" for a in r["assertions"] if not a["passed"])
        failures.append(f"eval item {r['id']} (model {r['model']}): {why}")
    return GateResult("eval", not failures, failures, out)


# --- bench --------------------------------------------------------------------------------


@dataclass
class _Bench:
    options: Any  # prai.bench.plan.BenchOptions, model and out_dir set per run
    thresholds: dict[str, float]


def _thresholds(spec: GateSpec) -> dict[str, float]:
    from prai.bench.gate import DEFAULT_THRESHOLDS, normalise_thresholds

    # An empty mapping means the defaults too, as in compare().
    thresholds = normalise_thresholds(spec.max_regression) if spec.max_regression else dict(DEFAULT_THRESHOLDS)
    for name, value in thresholds.items():
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise UsageError(f"--max-regression {name}={value!r}: give a fraction >= 0 (10% is 0.10)")
    return thresholds


def check_gates(spec: GateSpec, *, candidate: str, has_current: bool) -> None:
    """Validate the gates' input with no request and no file written, so a promotion can
    refuse bad input before it loads anything.

    Raises:
        EvalSuiteError, UsageError, BenchTokenizerMissing, BenchEngineMissing: as
            :func:`run_gates` would, before its first request.
    """
    from prai.bench.plan import resolve_tokenizer
    from prai.bench.runner import guidellm_version

    if spec.eval_suite is not None:
        _prepare_suite(spec.eval_suite, candidate)
    if spec.bench:
        _thresholds(spec)
        resolve_tokenizer(spec.tokenizer, None)
        if has_current:
            guidellm_version()


def _prepare_bench(spec: GateSpec, target: str, out: Path, api_key: str | None,
                   ca_bundle: Path | None, *, needs_engine: bool) -> _Bench:
    from prai.bench.plan import BenchOptions, resolve_tokenizer
    from prai.bench.runner import guidellm_version

    thresholds = _thresholds(spec)
    tokenizer = resolve_tokenizer(spec.tokenizer, None)
    if needs_engine:  # a first promote runs no bench, so it does not need GuideLLM
        guidellm_version()
    opts = BenchOptions(
        target=target, model="", tokenizer_dir=tokenizer, out_dir=out, api_key=api_key,
        profile=spec.bench_profile, rates=list(spec.bench_rates), max_requests=spec.bench_requests,
        max_seconds=spec.bench_max_seconds, ca_bundle=ca_bundle,
        data={**_SHORT_DATA, "prompt_tokens": spec.bench_prompt_tokens,
              "output_tokens": spec.bench_output_tokens},
    )
    opts.validate()
    return _Bench(opts, thresholds)


def _bench_gate(spec: GateSpec, bench: _Bench, candidate: str, current: str | None, out: Path,
                cache_dir: Path | None) -> GateResult:
    from dataclasses import replace

    from prai.bench.gate import compare, comparison_json
    from prai.bench.runner import run_bench

    if current is None:
        return GateResult("bench", True, [], out, ["no current version to compare"])
    summaries: dict[str, dict[str, Any]] = {}
    # Same options, same seed, same synthetic prompts, one after the other on the same
    # target: the only difference between the two runs is the model name. Both runs are
    # called "base", so their rows match in compare().
    for role, model in (("current", current), ("candidate", candidate)):
        opts = replace(bench.options, model=model, out_dir=out / role)
        _warm_up(opts, spec.bench_warmup_requests)
        try:
            summaries[role] = run_bench(opts, cache_dir=cache_dir, run_timeout_s=spec.bench_timeout_s).summary
        except BenchRunFailed as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return GateResult("bench", False, [f"bench run on {role} {model} failed: {first}"], out)
    cmp = compare(summaries["current"], summaries["candidate"], bench.thresholds)
    doc = {"current": current, "candidate": candidate, "thresholds": bench.thresholds, **comparison_json(cmp)}
    (out / "comparison.json").write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    failures = [f"benchmark {key} of {current} has no counterpart in the {candidate} run" for key in cmp.missing]
    several = len({c.key for c in cmp.changes}) > 1
    for c in cmp.regressions:
        where = f"{c.key}: " if several else ""
        failures.append(where + _describe(c.metric, c.base, c.new, c.change, c.threshold))
    return GateResult("bench", not failures, failures, out)


def _warm_up(opts: Any, n: int) -> None:
    """Send ``n`` short chat completions to ``opts.model``; errors are left to GuideLLM to
    report (its run fails or counts them)."""
    import httpx

    if n <= 0:
        return
    base = opts.target.rstrip("/").removesuffix("/v1")
    headers = {"Authorization": f"Bearer {opts.api_key}"} if opts.api_key else {}
    body = {"model": opts.model, "messages": [{"role": "user", "content": "warm-up"}], "max_tokens": 4}
    with http_client(ca_file=opts.ca_bundle, headers=headers, timeout_s=opts.request_timeout_s) as client:
        for _ in range(n):
            try:
                client.post(f"{base}/v1/chat/completions", json=body)
            except httpx.HTTPError:
                return


def _describe(metric: str, base: float | None, new: float | None, change: float | None,
              limit: float | None) -> str:
    """``ttft_p95_ms +34.0% (12.1 -> 16.2 ms, limit 10%)``; errors that appeared say so."""
    from prai.bench.summary import COLUMNS

    unit = COLUMNS[metric][0]
    values = f"{base or 0:.4g} -> {new or 0:.4g}{' ' + unit if unit else ''}"
    if change is None:
        return f"{metric} {values} (appeared where the current version had none)"
    bound = "no limit" if limit is None else f"limit {limit * 100:g}%"
    return f"{metric} {change:+.1%} ({values}, {bound})"
