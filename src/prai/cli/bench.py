"""`prai bench` (load test on GuideLLM), `prai bench compare` (regression gate),
`prai bench report` (re-render the HTML).

Thin: parse flags, call :mod:`prai.bench`, print. Exit codes: 0 done / no regression;
2 usage; 5 GuideLLM missing; 50 bench error; 51 target refused (down, key, --model not served),
a GuideLLM run failed, or every request of a run failed; 52 regression.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from prai.cli._console import make_console
from prai.cli._output import print_json
from prai.cli._params import input_bundle, input_dir, input_file, input_model_dir, input_path, output_path
from prai.errors import BenchRegression, UsageError

console = make_console()
err = make_console(stderr=True)


def _f(v: Any, pct: bool = False) -> str:
    from prai.bench.htmlkit import fmt

    if pct and isinstance(v, int | float):
        return f"{v * 100:.1f}%"
    return fmt(v)


def _rows_table(summary: dict[str, Any]) -> Table:
    from prai.bench.summary import flat_rows

    t = Table(title="prai bench (latencies in ms)", title_justify="left")
    cols = [("run", "run"), ("adapter", "adapter"), ("strategy", "strategy"), ("rate", "rate"),
            ("requests_successful", "ok"), ("requests_errored", "err"), ("requests_incomplete", "inc"),
            ("requests_per_s", "req/s"), ("output_tokens_per_s", "out tok/s"), ("concurrency_mean", "conc"),
            ("ttft_p50_ms", "TTFT p50"), ("ttft_p95_ms", "TTFT p95"), ("itl_p50_ms", "ITL p50"),
            ("tpot_p50_ms", "TPOT p50"), ("e2e_p95_ms", "E2E p95"), ("goodput_per_s", "goodput/s"),
            ("slo_attainment", "SLO")]
    for i, (_, h) in enumerate(cols):
        t.add_column(h, justify="left" if i < 3 else "right")
    for r in flat_rows(summary):
        t.add_row(*[_f(r.get(k), pct=k == "slo_attainment") if k not in ("run", "adapter", "strategy")
                    else str(r.get(k) or "") for k, _ in cols])
    return t


class _Live:
    """Live progress on stderr: one line per run with elapsed time and GuideLLM's counters;
    without a terminal, the same line printed plainly every PRAI_PROGRESS_INTERVAL_S seconds."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        from prai.settings import get_settings

        self.plain = enabled and not err.is_terminal
        self.interval_s = get_settings().progress_interval_s
        self.last_print = 0.0
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                 console=err, disable=not enabled or self.plain)
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()

    def _say(self, line: str, *, always: bool) -> None:
        import time

        if self.plain and (always or time.monotonic() - self.last_print >= self.interval_s):
            self.last_print = time.monotonic()
            print(line, file=sys.stderr, flush=True)

    def hooks(self) -> Any:
        from prai.bench.runner import Progress as Hooks

        def on_run(run: Any, i: int, n: int) -> None:
            with self.lock:
                self.tasks[run.name] = self.progress.add_task(f"[{i}/{n}] {run.name}: starting GuideLLM", total=None)
                self._say(f"[{i}/{n}] {run.name}: starting GuideLLM", always=True)

        def on_update(run: Any, f: dict[str, str]) -> None:
            with self.lock:
                task = self.tasks.get(run.name)
                line = (f"{run.name}: benchmark {f['index']} ({f['strategy']}) {f['status']} · ok {f['successful']} "
                        f"err {f['errored']} inc {f['incomplete']} · {float(f['rps']):.2f} req/s · "
                        f"{float(f['tps']):.1f} tok/s")
                if task is not None:
                    self.progress.update(task, description=line)
                self._say(line, always=False)

        def on_done(run: Any, rows: list[dict[str, Any]]) -> None:
            with self.lock:
                task = self.tasks.get(run.name)
                if task is not None:
                    ok = sum(r.get("requests_successful") or 0 for r in rows)
                    bad = sum(r.get("requests_errored") or 0 for r in rows)
                    self.progress.update(task, total=1, completed=1,
                                         description=f"{run.name}: done · {ok} ok, {bad} errors")
                    self._say(f"{run.name}: done · {ok} ok, {bad} errors", always=True)

        return Hooks(on_run=on_run, on_update=on_update, on_done=on_done)


def _bench_run(
    target: str, model: str, api_key: str | None, adapters: str | None, adapter_mix: str | None,
    no_base: bool, profile: str, rate: str | None, max_seconds: float | None, max_requests: int | None,
    warmup: float | None, cooldown: float | None, data: str, tokenizer: Path | None, bundle: Path | None,
    slo: str | None, out: Path, request_format: str, ca_bundle: Path | None, seed: int, as_json: bool,
) -> None:
    from prai.bench import BenchOptions, resolve_tokenizer, run_bench
    from prai.bench._spec import parse_adapters, parse_data, parse_mix, parse_rates, parse_slo
    from prai.settings import get_settings

    opts = BenchOptions(
        target=target, model=model, tokenizer_dir=resolve_tokenizer(tokenizer, bundle), out_dir=out,
        api_key=api_key or get_settings().api_key, adapters=parse_adapters(adapters),
        mix=parse_mix(adapter_mix) if adapter_mix else {}, profile=profile, rates=parse_rates(rate),
        max_seconds=max_seconds, max_requests=max_requests, warmup=warmup, cooldown=cooldown,
        data=parse_data(data), slo=parse_slo(slo), request_format=request_format, ca_bundle=ca_bundle,
        include_base=not no_base, seed=seed,
    )
    from prai.cli._interrupt import on_interrupt

    live = _Live(enabled=not as_json)
    with live.progress, on_interrupt(lambda: f"runs started: {', '.join(live.tasks) or 'none'}",
                                     f"finished runs are under {out / 'runs'}; run the same command again "
                                     "for a complete summary and report"):
        result = run_bench(opts, progress=live.hooks())
    if as_json:
        print_json(result.summary)
        return
    console.print(_rows_table(result.summary))
    for f in result.files:
        console.print(f"wrote {f}")
    console.print(f"GuideLLM JSON (untouched): {out / 'runs'}/*/benchmarks.json")


def register(app: typer.Typer) -> None:
    bench_app = typer.Typer(
        name="bench", no_args_is_help=False, invoke_without_command=True,
        help="Load tests on GuideLLM (offline), HTML report, and `compare` as a regression gate.",
    )

    @bench_app.callback()
    def bench_cmd(
        ctx: typer.Context,
        target: str | None = typer.Option(None, "--target", help="Server base URL, e.g. http://127.0.0.1:8000"),
        model: str | None = typer.Option(None, "--model", help="Served model name of the base model."),
        api_key: str | None = typer.Option(None, "--api-key", help="API key (default: $PRAI_API_KEY)."),
        adapters: str | None = typer.Option(None, "--adapters", help="Adapters to run one by one: a,b"),
        adapter_mix: str | None = typer.Option(None, "--adapter-mix",
                                               help="One combined run over adapters: a=0.5,b=0.5 "
                                               "(after the base and --adapters runs)"),
        no_base: bool = typer.Option(False, "--no-base", help="With adapters: skip the base-model run."),
        profile: str = typer.Option("synchronous", "--profile",
                                    help="synchronous|concurrent|constant|poisson|sweep|throughput"),
        rate: str | None = typer.Option(None, "--rate", help="req/s (constant, poisson), streams "
                                        "(concurrent), or sweep points; comma list for several"),
        max_seconds: float | None = typer.Option(None, "--max-seconds", help="Per benchmark (s)."),
        max_requests: int | None = typer.Option(None, "--max-requests", help="Per benchmark."),
        warmup: float | None = typer.Option(None, "--warmup", help="<1: fraction, >=1: seconds excluded."),
        cooldown: float | None = typer.Option(None, "--cooldown", help="<1: fraction, >=1: seconds excluded."),
        data: str = typer.Option("synthetic:prompt_tokens=256,output_tokens=128", "--data",
                                 help="synthetic:prompt_tokens=N,output_tokens=M or FILE.jsonl"),
        tokenizer: Path | None = typer.Option(
            None, "--tokenizer", callback=input_model_dir, help="Local model dir with the tokenizer."),
        bundle: Path | None = typer.Option(
            None, "--bundle", callback=input_bundle, help="Bundle (or loaded) dir; its model's tokenizer."),
        slo: str | None = typer.Option(None, "--slo", help="ttft=500ms,tpot=50ms,e2e=10s (goodput)"),
        out: Path | None = typer.Option(None, "-o", "--out", callback=output_path, help="Output directory."),
        request_format: str = typer.Option("/v1/chat/completions", "--request-format",
                                           help="/v1/chat/completions or /v1/completions"),
        ca_bundle: Path | None = typer.Option(
            None, "--ca-bundle", callback=input_file, help="PEM CAs for an https target."),
        seed: int = typer.Option(42, "--seed", help="Seed for synthetic data and the adapter mix."),
        as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    ) -> None:
        """Run GuideLLM against --target (per adapter, and the mix), write summary.json/.csv,
        report.html and GuideLLM's own JSON under -o."""
        if ctx.invoked_subcommand is not None:
            return
        if not data.startswith("synthetic"):
            from prai.cli._params import check_input

            check_input("--data", Path(data), "file")
        if not target or not model or out is None:
            missing = [n for n, v in (("--target", target), ("--model", model), ("-o", out)) if not v]
            raise UsageError(f"prai bench needs {', '.join(missing)}",
                             hint="e.g. prai bench --target http://127.0.0.1:8000 --model prai-demo "
                             "--tokenizer /mnt/models --max-requests 20 -o bench-out")
        _bench_run(target, model, api_key, adapters, adapter_mix, no_base, profile, rate, max_seconds,
                   max_requests, warmup, cooldown, data, tokenizer, bundle, slo, out, request_format,
                   ca_bundle, seed, as_json)

    @bench_app.command("compare")
    def compare_cmd(
        base: Path = typer.Argument(..., callback=input_path, help="BASE run: output dir or its summary.json."),
        new: Path = typer.Argument(..., callback=input_path, help="NEW run: output dir or its summary.json."),
        max_regression: str | None = typer.Option(
            None, "--max-regression", help="metric=pct,... e.g. ttft_p95=10%,output_tokens_per_s=5% "
            "(default: ttft/itl/e2e p95 10%, req/s and tokens/s 5%)"),
        show_all: bool = typer.Option(False, "--all", help="Show every metric, not only gated ones."),
        as_json: bool = typer.Option(False, "--json", help="Print the comparison as JSON."),
    ) -> None:
        """Differences between two runs; exit 52 on a regression beyond the thresholds."""
        from prai.bench import compare, load_summary
        from prai.bench._spec import parse_thresholds
        from prai.bench.gate import comparison_json

        result = compare(load_summary(base), load_summary(new), parse_thresholds(max_regression) or None)
        if as_json:
            print_json(comparison_json(result))
        else:
            t = Table(title=f"prai bench compare {base} -> {new}", title_justify="left")
            for h in ("row", "metric", "base", "new", "change", "limit", ""):
                t.add_column(h, justify="left" if h in ("row", "metric", "") else "right")
            for c in result.changes:
                if not show_all and c.threshold is None and not c.regression:
                    continue
                t.add_row(c.key, c.metric, _f(c.base), _f(c.new),
                          "–" if c.change is None else f"{c.change * 100:+.1f}%",
                          "–" if c.threshold is None else f"{c.threshold * 100:.0f}%",
                          "[bold red]REGRESSION[/]" if c.regression else "[green]ok[/]")
            console.print(t)
            for m in result.missing:
                console.print(f"[red]missing in NEW:[/] {m}")
        if result.regressions or result.missing:
            raise BenchRegression(
                f"{len(result.regressions)} regression(s) beyond the thresholds"
                + (f", {len(result.missing)} row(s) missing in NEW" if result.missing else "")
                + ": " + ", ".join(f"{c.key} {c.metric}" for c in result.regressions[:8]))

    @bench_app.command("report")
    def report_cmd(
        out: Path = typer.Argument(
            ..., callback=input_dir, help="Output directory of `prai bench` (with summary.json)."),
    ) -> None:
        """Write OUT/report.html again from OUT/summary.json and the GuideLLM JSON."""
        from prai.bench import load_summary, render_report
        from prai.bench.runner import write_atomic

        summary = load_summary(out)
        path = out / "report.html"
        write_atomic(path, render_report(summary, out))
        console.print(f"wrote {path}")

    app.add_typer(bench_app, name="bench")
