"""`prai eval SUITE --target URL [--model a,b] [--baseline PREV.json] -o OUT`: question-set regression.

Thin: parse, call :func:`prai.evals.run_eval`, print. Exit codes: 0 all pass (or, with
--baseline, nothing newly failing); 52 newly failing items against the baseline; 53 failures
without a baseline; 51 target refused before any item (down, key, model not served);
2 bad suite or options.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from prai.cli._console import make_console
from prai.cli._output import print_json
from prai.cli._params import input_file, output_path
from prai.errors import BenchRegression, EvalFailed

console = make_console()


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_cmd(
        suite: Path = typer.Argument(
            ..., callback=input_file, help="Suite file (.yaml or .jsonl) carried in with the bundle."),
        target: str = typer.Option(..., "--target", help="Server base URL, e.g. http://127.0.0.1:8000"),
        model: str | None = typer.Option(None, "--model", help="Models/adapters, comma list "
                                         "(default: the suite's `models:`)."),
        api_key: str | None = typer.Option(None, "--api-key", help="API key (default: $PRAI_API_KEY)."),
        baseline: Path | None = typer.Option(None, "--baseline", callback=input_file,
                                             help="result.json of an accepted run: fail only on newly "
                                             "failing items."),
        out: Path = typer.Option(
            ..., "-o", "--out", callback=output_path, help="Output directory (result.json, report.html)."),
        ca_bundle: Path | None = typer.Option(
            None, "--ca-bundle", callback=input_file, help="PEM CAs for an https target."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Ask every item of SUITE to every model, check its assertions, write JSON + HTML."""
        from prai.evals import run_eval
        from prai.settings import get_settings

        models = [m.strip() for m in model.split(",") if m.strip()] if model else None

        def on_item(m: str, item: str, passed: bool) -> None:
            if not as_json:
                console.print(f"{'[green]PASS[/]' if passed else '[bold red]FAIL[/]'} {m} {item}")

        from prai.cli._interrupt import on_interrupt

        done: list[str] = []

        def on_item_counted(m: str, item: str, passed: bool) -> None:
            done.append(item)
            on_item(m, item, passed)

        with on_interrupt(lambda: f"{len(done)} answer(s) checked; no result written",
                          f"run the same command again: it asks every item again and writes {out}"):
            run = run_eval(suite, target, out, models=models, api_key=api_key or get_settings().api_key,
                           baseline=baseline, ca_bundle=ca_bundle, on_item=on_item_counted)
        if as_json:
            print_json(run.result)
        else:
            t = Table(title=f"prai eval {run.result['suite']}", title_justify="left")
            for h in ("model", "items", "passed", "failed", "score"):
                t.add_column(h, justify="left" if h == "model" else "right")
            for m, tot in run.result["totals"].items():
                score = "–" if tot["score"] is None else f"{tot['score'] * 100:.1f}%"
                t.add_row(m, str(tot["items"]), str(tot["passed"]), str(tot["failed"]), score)
            console.print(t)
            diff = run.result.get("baseline_diff")
            if diff is not None:
                for e in diff["newly_failing"]:
                    console.print(f"[bold red]newly failing:[/] {e['model']} {e['id']} ({e['detail']})")
                for e in diff["fixed"]:
                    console.print(f"[green]fixed:[/] {e['model']} {e['id']}")
            for f in run.files:
                console.print(f"wrote {f}")
        first = f"; first error: {run.first_error}" if run.first_error else ""
        if baseline is not None:
            if run.newly_failing:
                raise BenchRegression(
                    f"{len(run.newly_failing)} item(s) newly failing against {baseline}: "
                    + ", ".join(f"{e['model']}/{e['id']}" for e in run.newly_failing[:10]) + first)
        elif run.failed:
            raise EvalFailed(f"{run.failed} item(s) failed{first}; see {out / 'report.html'}")
