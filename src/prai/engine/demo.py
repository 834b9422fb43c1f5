"""`prai demo`: the seed's flow on one machine with no GPU and no network.

1. Build (or reuse from the cache) the demo model and two LoRA adapters.
2. Bring-in (持ち込み): pack them into a bundle, verify it, load it into a local store
   (:func:`prai.bundle.demo_roundtrip`), as a closed site receives them.
3. Start `prai serve` on 127.0.0.1 from the store, with both adapters (vLLM's CPU build).
4. Taste test (味見, seed §11) for the base model and each adapter: answer, TTFT, tokens/s.
5. ``--smoke``: exit 0 only if all three answered, differently. Otherwise keep serving
   and print how to call it, until Ctrl-C.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from prai.engine.demo_corpus import STYLE_MARKERS
from prai.engine.demo_model import DemoModels, ensure_demo_models
from prai.engine.process import EngineProcess, ensure_port_free
from prai.errors import TasteTestFailed
from prai.settings import Settings, get_settings
from prai.taste import TASTE_PROMPT, TasteResult, taste_test

HOST = "127.0.0.1"


@dataclass
class DemoOutcome:
    """What the demo observed: ready time (s) and one taste test per model."""

    ready_s: float
    results: list[TasteResult]


def serve_args(models: DemoModels, port: int) -> list[str]:
    """`prai serve` arguments for the demo kitchen."""
    args = ["--model", str(models.base), "--served-model-name", models.served_model_name]
    args += ["--lora-modules", *(f"{n}={p}" for n, p in models.adapters.items())]
    return [*args, "--host", HOST, "--port", str(port), "--max-model-len", "512"]


def check_answers(results: list[TasteResult]) -> list[str]:
    """Problems with the taste-test answers: empty, identical, or missing their style."""
    problems = []
    contents = [r.content for r in results]
    if len(set(contents)) != len(contents):
        problems.append("two models gave the same answer: the adapters had no effect (seed §13 Tips)")
    for r, name in zip(results, ["base", *[r.model for r in results[1:]]], strict=True):
        marker = STYLE_MARKERS.get(name)
        if marker and marker not in r.content:
            problems.append(f"{r.model}: the answer lacks its style marker {marker!r}")
    return problems


def _table(results: list[TasteResult]) -> Table:
    t = Table(title=f"taste test (味見): 「{TASTE_PROMPT}」", show_lines=False)
    t.add_column("model")
    t.add_column("answer", overflow="fold")
    t.add_column("TTFT", justify="right")
    t.add_column("tokens/s", justify="right")
    for r in results:
        t.add_row(r.model, r.content, f"{r.ttft_s * 1000:.0f} ms", f"{r.tokens_per_s:.0f}")
    return t


def run_demo(*, smoke: bool = False, port: int = 8000, settings: Settings | None = None) -> int:
    """Run the demo kitchen; return the exit status (0 = every check passed).

    Raises:
        PortInUse: ``port`` is taken.
        EngineNotInstalled: the ``cpu`` extra is missing.
        EngineStartError: vLLM did not become healthy (the log's last lines are included).
        TasteTestFailed: a model did not answer, or the answers were not distinct.
    """
    settings = settings or get_settings()
    console = Console(highlight=False)
    ensure_port_free(HOST, port)
    t0 = time.monotonic()
    with console.status("building the demo model and adapters (first run only)...") as status:
        models = ensure_demo_models(settings.cache_dir, log=lambda line: status.update(line))
    console.print(f"[green]✓[/] demo model {models.base} ({time.monotonic() - t0:.0f} s)")
    models = _bring_in(console, models, settings)
    log_path = settings.cache_dir / "demo" / "logs" / f"serve-{port}.log"
    engine = EngineProcess(serve_args(models, port), log_path)
    base_url = f"http://{HOST}:{port}"
    try:
        with console.status("starting vLLM (CPU build) with prai serve...") as status:
            ready_s = engine.wait_healthy(
                base_url,
                settings.engine_ready_timeout_s,
                on_tick=lambda s: status.update(f"starting vLLM (CPU build) with prai serve... {s:.0f} s"),
            )
        console.print(f"[green]✓[/] engine ready at {base_url} in {ready_s:.0f} s (log: {log_path})")
        results = [taste_test(base_url, name) for name in [models.served_model_name, *models.adapters]]
        console.print(_table(results))
        problems = check_answers(results)
        if problems:
            raise TasteTestFailed("; ".join(problems))
        console.print("[green]✓[/] three different answers: base model and both LoRA adapters work")
        if smoke:
            return 0
        _print_usage(console, base_url, models)
        try:
            while engine.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            console.print("stopping")
            return 0
        console.print(f"the engine exited; last log lines:\n{engine.tail()}")
        return 1
    finally:
        engine.stop()


def _bring_in(console: Console, models: DemoModels, settings: Settings) -> DemoModels:
    """Pack, verify and load the demo kitchen; return the paths in the loaded store."""
    from prai.bundle import demo_roundtrip

    with console.status("bring-in: packing, verifying and loading the bundle..."):
        adapters: dict[str, str | Path] = dict(models.adapters)
        rt = demo_roundtrip(models.base, adapters, settings.cache_dir / "demo" / "kitchen")
    console.print(
        f"[green]✓[/] bring-in (持ち込み): bundle {rt.bundle} verified, root digest {rt.root_digest}, "
        f"loaded into {rt.store} ({sum(rt.seconds.values()):.1f} s)"
    )
    return DemoModels(base=rt.model_dir, adapters=dict(rt.adapter_dirs))


def _print_usage(console: Console, base_url: str, models: DemoModels) -> None:
    adapter = next(iter(models.adapters))
    console.print(
        "\nThe kitchen is open. Try it (Ctrl-C to stop):\n\n"
        f"  curl -s {base_url}/v1/chat/completions -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"model": "{adapter}", "messages": [{{"role": "user", "content": "こんにちは"}}]}}\'\n\n'
        "  python -c \"from openai import OpenAI; c = OpenAI(base_url='" + base_url + "/v1', api_key='none'); "
        f"print(c.chat.completions.create(model='{models.served_model_name}', "
        "messages=[{'role': 'user', 'content': 'こんにちは'}]).choices[0].message.content)\"\n",
        markup=False,
    )
