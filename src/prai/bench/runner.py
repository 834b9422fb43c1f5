"""Run GuideLLM for each planned run, then write PrAI's summary JSON/CSV and HTML report.

GuideLLM runs as a child process (``python -m guidellm run --scenario FILE``), for three
reasons: its environment is composed exactly (Hugging Face offline flags are set before
anything imports huggingface_hub; the API key goes in through GuideLLM's own
``GUIDELLM__SPEC__BACKEND__API_KEY`` variable, never a file or argv); its worker
processes and event loop stay out of PrAI's process; and an interrupted run is one
process group to stop. GuideLLM's JSON report is kept untouched beside its scenario
and log, so any run can be repeated with GuideLLM alone.

Layout of ``OUT/``::

    summary.json   PrAI summary (format prai-bench-summary, version 1)
    summary.csv    one row per benchmark (+ per-adapter rows of the mix)
    report.html    self-contained report (no network)
    runs/NAME/scenario.json  runs/NAME/benchmarks.json  runs/NAME/guidellm.log
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prai import __version__
from prai.bench.plan import BenchOptions, RunSpec, plan_runs, scenario_for
from prai.bench.summary import (
    benchmark_row,
    first_request_error,
    flat_rows,
    load_guidellm_report,
    split_by_adapter,
    to_csv,
)
from prai.bench.target import check_target
from prai.errors import BenchEngineMissing, BenchRunFailed

_PROGRESS = re.compile(
    r"Benchmark (?P<index>\d+) \((?P<strategy>[^)]*)\): (?P<status>\w+) \| elapsed=(?P<elapsed>[\d.]+)s \| "
    r"successful=(?P<successful>\d+) errored=(?P<errored>\d+) incomplete=(?P<incomplete>\d+) \| "
    r"requests/s=(?P<rps>[\d.]+) output_tokens/s=(?P<tps>[\d.]+)"
)


@dataclass
class Progress:
    """Callbacks for a live display (all optional; called from the runner's thread).

    ``on_run(run, index, total)`` when a run starts (index from 1);
    ``on_update(run, fields)`` for each GuideLLM progress record (keys: index, strategy,
    status, elapsed, successful, errored, incomplete, rps, tps);
    ``on_done(run, rows)`` with the run's summary rows.
    """

    on_run: Callable[[RunSpec, int, int], None] | None = None
    on_update: Callable[[RunSpec, dict[str, str]], None] | None = None
    on_done: Callable[[RunSpec, list[dict[str, Any]]], None] | None = None


@dataclass
class BenchResult:
    """What `prai bench` wrote: the output directory, the summary and its files."""

    out_dir: Path
    summary: dict[str, Any]
    files: list[Path] = field(default_factory=list)


def guidellm_version() -> str:
    """Installed GuideLLM version.

    Raises:
        BenchEngineMissing: GuideLLM is not installed.
    """
    if importlib.util.find_spec("guidellm") is None:
        raise BenchEngineMissing("GuideLLM is not installed in this Python environment")
    from importlib.metadata import version

    return version("guidellm")


def guidellm_environment(env: Mapping[str, str], cache_dir: Path, *, api_key: str | None,
                         ca_bundle: Path | None) -> dict[str, str]:
    """The child environment: the caller's, with Hugging Face forced offline.

    Args:
        env: parent environment (:attr:`prai.settings.Settings.environ`).
        cache_dir: PrAI cache; ``HF_HOME`` goes below it when unset (writable).
        api_key: sent as ``GUIDELLM__SPEC__BACKEND__API_KEY`` (GuideLLM's settings).
        ca_bundle: becomes ``SSL_CERT_FILE`` (httpx reads it for GuideLLM's verified TLS).
    """
    from prai.engine.environment import OFFLINE_VARS

    out = {k: v for k, v in env.items() if not k.startswith("GUIDELLM__SPEC__")}
    out.update(OFFLINE_VARS)
    out.setdefault("HF_HOME", str(cache_dir / "huggingface"))
    out["TOKENIZERS_PARALLELISM"] = "false"
    out["PYTHONUNBUFFERED"] = "1"
    out["COLUMNS"] = "200"
    if api_key:
        out["GUIDELLM__SPEC__BACKEND__API_KEY"] = api_key
    if ca_bundle is not None:
        out["SSL_CERT_FILE"] = str(ca_bundle.resolve())
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write UTF-8 text to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


_ERROR_LINE = re.compile(r"^\s*(?:[\w.]+(?:Error|Exception)|Error): .+")


def failure_reason(log_path: Path) -> str:
    """The last ``SomethingError: message`` line of a GuideLLM log, else its last lines."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    for line in reversed(lines):
        if _ERROR_LINE.match(line):
            return line.strip()
    return "\n".join(lines[-8:])


def run_guidellm(scenario_path: Path, log_path: Path, env: Mapping[str, str], run: RunSpec,
                 progress: Progress | None = None, timeout_s: float | None = None) -> None:
    """Run ``python -m guidellm run --scenario FILE`` and wait.

    Output (stdout and stderr) goes to ``log_path``; progress records are parsed from it
    as they arrive.

    Raises:
        BenchRunFailed: non-zero exit or ``timeout_s`` (s) passed; carries the log's tail.
    """
    cmd = [sys.executable, "-m", "guidellm", "run", "--scenario", str(scenario_path), "--disable-progress"]
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=dict(env), text=True, encoding="utf-8", errors="replace",
                                start_new_session=True)

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                log.flush()
                m = _PROGRESS.search(line)
                if m and progress and progress.on_update:
                    progress.on_update(run, m.groupdict())

        reader = threading.Thread(target=pump, name="guidellm-log", daemon=True)
        reader.start()
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _stop(proc)
            reader.join(5)
            raise BenchRunFailed(
                f"GuideLLM run {run.name!r} did not finish within {timeout_s:.0f} s; log {log_path}:\n"
                f"{_tail(log_path)}") from None
        except BaseException:
            _stop(proc)
            raise
        reader.join(10)
    if rc != 0:
        raise BenchRunFailed(f"GuideLLM run {run.name!r} failed (exit status {rc}): {failure_reason(log_path)}\n"
                             f"full log: {log_path}")


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _all_errored(run: RunSpec, rows: list[dict[str, Any]], report: Mapping[str, Any],
                 run_dir: Path) -> BenchRunFailed | None:
    """The error to raise when a run had errors and not one successful request, else None."""
    ok = sum(r.get("requests_successful") or 0 for r in rows)
    bad = sum(r.get("requests_errored") or 0 for r in rows)
    if ok or not bad:
        return None
    first = next((e for e in (first_request_error(b) for b in report["benchmarks"]) if e), "")
    return BenchRunFailed(
        f"every request of run {run.name!r} failed ({bad} errors, 0 ok); first error: {first or 'not recorded'}",
        hint="check --model against GET TARGET/v1/models, the API key and the server's log; GuideLLM's records: "
        f"{run_dir / 'benchmarks.json'}")


def run_bench(opts: BenchOptions, *, progress: Progress | None = None, env: Mapping[str, str] | None = None,
              cache_dir: Path | None = None, run_timeout_s: float | None = None) -> BenchResult:
    """Run every planned benchmark and write the summary, CSV and HTML report.

    Args:
        opts: what to run (validated here).
        progress: live display callbacks.
        env: parent environment (default: :func:`prai.settings.get_settings` ``.environ``).
        cache_dir: PrAI cache directory (default from settings).
        run_timeout_s: wall-clock limit per GuideLLM run (s), None for none.

    Returns:
        The result, with ``summary`` as written to ``OUT/summary.json``.

    Raises:
        UsageError: bad options. BenchEngineMissing: no GuideLLM.
        BenchTargetError: before any run: the target does not answer ``GET /v1/models``,
        refuses the key, or does not serve a model or adapter of the runs
        (:func:`prai.bench.target.check_target`); nothing is written.
        BenchRunFailed: a GuideLLM run failed, or every request of every run failed
        (nothing measured; the message names the first request's error); earlier runs
        stay under ``OUT/runs``; no summary is written. A run in which every request
        failed among runs that measured something is counted, not fatal.
    """
    from prai.bench.mixproxy import MixRouter
    from prai.bench.report import render_report
    from prai.settings import get_settings

    opts.validate()
    runs = plan_runs(opts)
    version = guidellm_version()
    names = ([opts.model] if any(r.kind != "adapter" for r in runs) else []) + list(opts.adapters) + list(opts.mix)
    check_target(opts.target, list(dict.fromkeys(names)), api_key=opts.api_key, ca_bundle=opts.ca_bundle)
    settings = get_settings()
    child_env = guidellm_environment(env if env is not None else settings.environ,
                                     cache_dir or settings.cache_dir, api_key=opts.api_key,
                                     ca_bundle=opts.ca_bundle)
    out = opts.out_dir
    out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    run_summaries: list[dict[str, Any]] = []
    all_failed: BenchRunFailed | None = None  # the first run in which every request failed
    any_ok = False
    for i, run in enumerate(runs, 1):
        if progress and progress.on_run:
            progress.on_run(run, i, len(runs))
        run_dir = out / "runs" / run.name
        run_dir.mkdir(parents=True, exist_ok=True)
        json_path = run_dir / "benchmarks.json"
        json_path.unlink(missing_ok=True)
        router = MixRouter(opts.target, run.weights, seed=opts.seed, ca_bundle=opts.ca_bundle).start() \
            if run.kind == "mix" else None
        try:
            target = router.url if router else opts.target
            scenario = scenario_for(opts, run, target, json_path.resolve())
            write_atomic(run_dir / "scenario.json", json.dumps(scenario, indent=2, ensure_ascii=False) + "\n")
            t0 = time.monotonic()
            run_guidellm(run_dir / "scenario.json", run_dir / "guidellm.log", child_env, run, progress,
                         run_timeout_s)
            wall_s = time.monotonic() - t0
        finally:
            if router:
                router.stop()
        if not json_path.is_file():
            raise BenchRunFailed(f"GuideLLM run {run.name!r} wrote no {json_path}; log:\n"
                                 f"{_tail(run_dir / 'guidellm.log')}")
        report = load_guidellm_report(json_path)
        rows = [benchmark_row(b) for b in report["benchmarks"]]
        failed = _all_errored(run, rows, report, run_dir)
        all_failed = all_failed or failed
        any_ok = any_ok or failed is None
        entry: dict[str, Any] = {"name": run.name, "kind": run.kind, "model": run.model,
                                 "wall_s": round(wall_s, 3), "guidellm_json": f"runs/{run.name}/benchmarks.json",
                                 "benchmarks": rows}
        if router:
            entry["weights"] = run.weights
            entry["router_sent"] = dict(router.sent)
            entry["per_adapter"] = [split_by_adapter(b, router.by_response_id) for b in report["benchmarks"]]
        run_summaries.append(entry)
        if progress and progress.on_done:
            progress.on_done(run, rows)
    if all_failed is not None and not any_ok:
        raise all_failed  # nothing was measured: no summary (a run that failed among others is counted)
    summary: dict[str, Any] = {
        "format": "prai-bench-summary",
        "format_version": 1,
        "created_at": started.isoformat(timespec="seconds"),
        "prai_version": __version__,
        "guidellm_version": version,
        "target": opts.target,
        "model": opts.model,
        "profile": opts.profile,
        "rates": opts.rates,
        "max_seconds": opts.max_seconds,
        "max_requests": opts.max_requests,
        "data": opts.data,
        "slo": opts.slo,
        "tokenizer": str(opts.tokenizer_dir),
        "runs": run_summaries,
    }
    files = [out / "summary.json", out / "summary.csv", out / "report.html"]
    write_atomic(files[0], json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_atomic(files[1], to_csv(flat_rows(summary)))
    write_atomic(files[2], render_report(summary, out))
    return BenchResult(out, summary, files)
