"""`prai demo`: the seed's flow on one machine with no GPU and no network.

1. The demo model and two LoRA adapters: the weights shipped with PrAI, copied into the
   cache (built from the recipe only when they do not match it).
2. Bring-in (持ち込み): pack them into a bundle, verify it, load it into a local store
   (:func:`prai.bundle.demo_roundtrip`), as a closed site receives them.
3. Start `prai serve` on 127.0.0.1 from the store, with both adapters (vLLM's CPU build).
4. Taste test (味見, seed §11) for the base model and each adapter (answer, TTFT, tokens/s),
   `prai doctor` against the kitchen, then the same taste test through `prai gateway` with an
   API key, and one masked and one blocked request (guardrails).
5. ``--smoke``: exit 0 only if all three answered, differently. Otherwise keep serving
   and print how to call it, until Ctrl-C.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from prai.doctor.taste import TASTE_PROMPT, TasteResult, taste_test
from prai.engine.demo_corpus import STYLE_MARKERS
from prai.engine.demo_model import DemoModels, ensure_demo_models
from prai.engine.process import EngineProcess, ensure_port_free
from prai.errors import TasteTestFailed
from prai.kitchen._steps import step
from prai.kitchen.demo_gateway import BLOCK_PROMPT, MASK_PROMPT, DemoGateway, GuardShow
from prai.settings import Settings, get_settings

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


def _table(results: list[TasteResult], title: str = "taste test (味見)") -> Table:
    t = Table(title=f"{title}: 「{TASTE_PROMPT}」", show_lines=False)
    t.add_column("model")
    t.add_column("answer", overflow="fold")
    t.add_column("TTFT", justify="right")
    t.add_column("tokens/s", justify="right")
    for r in results:
        t.add_row(r.model, r.content, f"{r.ttft_s * 1000:.0f} ms", f"{r.tokens_per_s:.0f}")
    return t


def run_demo(
    *,
    smoke: bool = False,
    port: int = 8000,
    gateway_port: int = 4000,
    settings: Settings | None = None,
    console: Console | None = None,
) -> int:
    """Run the demo kitchen; return the exit status (0 = every check passed).

    Args:
        console: where to print (the CLI's; default a plain rich console). Steps that take
            longer than a couple of seconds show a spinner on a terminal and periodic plain
            lines without one.

    Raises:
        PortInUse: ``port`` is taken.
        EngineNotInstalled: the ``cpu`` extra is missing.
        EngineStartError: vLLM did not become healthy (the log's last lines are included).
        TasteTestFailed: a model did not answer, or the answers were not distinct.
    """
    settings = settings or get_settings()
    console = console or Console(highlight=False, soft_wrap=True)
    ensure_port_free(HOST, port, "--port")
    ensure_port_free(HOST, gateway_port, "--gateway-port")
    lock = _hold_demo_lock(settings.cache_dir)
    try:
        return _run_demo(console, settings, smoke=smoke, port=port, gateway_port=gateway_port)
    finally:
        lock.release()


def _hold_demo_lock(cache_dir: Path) -> Any:
    """One `prai demo` per cache: its bundle, store, gateway database and reports live there.

    Raises:
        CacheBusy: another demo holds the lock (exit 5).
    """
    from filelock import FileLock, Timeout

    from prai.errors import CacheBusy

    (cache_dir / "demo").mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache_dir / "demo" / ".demo-run.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise CacheBusy(f"another `prai demo` is running with the cache {cache_dir}",
                        hint="stop it (Ctrl-C), or give this one its own cache: "
                        "PRAI_CACHE_DIR=/tmp/prai-demo-2 prai demo --port 8100 --gateway-port 4100") from None
    return lock


def _run_demo(console: Console, settings: Settings, *, smoke: bool, port: int, gateway_port: int) -> int:
    interval = settings.progress_interval_s
    _stop_on_hangup_and_term()
    t0 = time.monotonic()
    with step(console, "demo model: preparing the model and adapters", interval_s=interval) as update:
        models = ensure_demo_models(settings.cache_dir, log=update)
    console.print(f"[green]✓[/] demo model {models.base} ({time.monotonic() - t0:.1f} s)")
    models, bundle = _bring_in(console, models, settings)
    log_path = settings.cache_dir / "demo" / "logs" / f"serve-{port}.log"
    engine = EngineProcess(serve_args(models, port), log_path)
    base_url = f"http://{HOST}:{port}"
    try:
        console.print(f"… engine log: {log_path}", markup=False)
        with step(console, "starting vLLM (CPU build) with prai serve", interval_s=interval):
            ready_s = engine.wait_healthy(base_url, settings.engine_ready_timeout_s)
        console.print(f"[green]✓[/] engine ready at {base_url} in {ready_s:.0f} s (log: {log_path})")
        results = [taste_test(base_url, name) for name in [models.served_model_name, *models.adapters]]
        first_answer_s = time.monotonic() - t0
        console.print(_table(results))
        console.print(f"[green]✓[/] first answer {first_answer_s:.0f} s after `prai demo` started "
                      "(taste test 味見)")
        problems = check_answers(results)
        if problems:
            raise TasteTestFailed("; ".join(problems))
        console.print("[green]✓[/] three different answers: base model and both LoRA adapters work")
        _doctor(console, base_url, models)
        names = [models.served_model_name, *models.adapters]
        gateway = DemoGateway(base_url, names, settings.cache_dir / "demo" / "gateway", gateway_port)
        try:
            _through_gateway(console, gateway, models)
            _lifecycle(console, gateway, models, bundle, settings)
            _quality(console, base_url, models, settings)
            if smoke:
                return 0
            _print_usage(console, gateway, models)
            try:
                while engine.proc.poll() is None and gateway.proc.poll() is None:
                    time.sleep(1)
            except KeyboardInterrupt:
                console.print("stopping")
                return 0
            console.print(f"the engine or the gateway exited; engine log:\n{engine.tail()}")
            return 1
        finally:
            gateway.stop()
    finally:
        engine.stop()


def _stop_on_hangup_and_term() -> None:
    # The engine and gateway run in their own sessions (so Ctrl-C reaches only us and we
    # stop them in order); SIGTERM and SIGHUP must unwind the same way, or they outlive us.
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupt)


def _doctor(console: Console, base_url: str, models: DemoModels) -> None:
    """`prai doctor` against the demo kitchen (model, offline, lora, endpoint checks).

    Raises:
        TasteTestFailed: a check failed (the report above says which and how to fix it).
    """
    from prai.doctor import render_report
    from prai.kitchen.doctor_step import doctor_demo

    with step(console, "prai doctor: model, offline, lora, endpoint"):
        report = doctor_demo(base_url, models.base, dict(models.adapters), models.served_model_name)
    render_report(report, console)
    if not report.ok:
        raise TasteTestFailed(f"prai doctor: {report.count('FAIL')} check(s) failed on the demo kitchen")


def _through_gateway(console: Console, gateway: DemoGateway, models: DemoModels) -> None:
    """Taste test through the gateway with a key; then one masked and one blocked request.

    Raises:
        TasteTestFailed: an answer differs from the engine's, or a guardrail did not act.
    """
    with step(console, "starting prai gateway (tenant demo, project taste, guard policy standard)"):
        gateway.wait_ready(models.served_model_name)
    console.print(f"[green]✓[/] gateway at {gateway.url}/v1 with an API key for tenant demo / project taste")
    results = [taste_test(gateway.url, m, api_key=gateway.key) for m in [models.served_model_name, *models.adapters]]
    console.print(_table(results, title="taste test through the gateway, with an API key"))
    problems = check_answers(results)
    if problems:
        raise TasteTestFailed("through the gateway: " + "; ".join(problems))
    masked = gateway.guard_request(models.served_model_name, MASK_PROMPT)
    if masked.status != 200 or not masked.masked_prompt or "090-1234-5678" in masked.masked_prompt:
        raise TasteTestFailed(f"guardrails: the phone number was not masked (HTTP {masked.status})")
    console.print(
        f"[green]✓[/] guardrails mask: 「{masked.prompt}」 reached the model as 「{masked.masked_prompt}」 "
        f"({_actions(masked)})"
    )
    blocked = gateway.guard_request(models.served_model_name, BLOCK_PROMPT)
    if blocked.status != 400:
        raise TasteTestFailed(f"guardrails: the prompt injection was not blocked (HTTP {blocked.status})")
    console.print(
        f"[green]✓[/] guardrails block: 「{blocked.prompt}」 → HTTP 400 {blocked.error_type} ({_actions(blocked)})"
    )


def _quality(console: Console, base_url: str, models: DemoModels, settings: Settings) -> None:
    """A short `prai bench` (GuideLLM) and `prai eval` run, each writing its HTML report.

    Raises:
        TasteTestFailed: an eval item failed on the demo model.
    """
    from prai.kitchen.quality import demo_quality_check

    out = settings.cache_dir / "demo" / "quality"
    with step(console, "quality: a short bench (GuideLLM) and the demo eval suite",
              interval_s=settings.progress_interval_s) as update:
        q = demo_quality_check(
            base_url,
            models.base,
            out,
            model=models.served_model_name,
            adapters=tuple(models.adapters),
            log=update,
        )
    t = Table(title="bench (GuideLLM, synchronous, 16-token prompts and answers)")
    for col in ("model", "TTFT p50", "ITL p50", "output tokens/s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for row in q.rows:
        t.add_row(
            str(row.get("model") or row.get("run")),
            _ms(row.get("ttft_p50_ms")),
            _ms(row.get("itl_p50_ms")),
            f"{row.get('output_tokens_per_s') or 0:.0f}",
        )
    console.print(t)
    passed = sum(int(v.get("passed", 0)) for v in q.eval_totals.values())
    items = sum(int(v.get("items", 0)) for v in q.eval_totals.values())
    console.print(f"[green]✓[/] bench report {q.bench_report}")
    if q.eval_failed:
        raise TasteTestFailed(f"eval: {q.eval_failed} item(s) failed on the demo model; see {q.eval_report}")
    console.print(f"[green]✓[/] eval: {passed}/{items} items passed; report {q.eval_report}")


def _ms(value: object) -> str:
    return f"{float(value):.1f} ms" if isinstance(value, int | float) else "-"


def _actions(show: GuardShow) -> str:
    return ", ".join(f"{a.get('detector')}: {a.get('action')}" for a in show.actions) or "no action recorded"


def _lifecycle(console: Console, gateway: DemoGateway, models: DemoModels, bundle: Path, settings: Settings) -> None:
    """Bring in kansai v2, promote it behind an eval gate, roll back (seed §15)."""
    from prai.kitchen.demo_lifecycle import show_lifecycle

    show_lifecycle(
        console,
        gateway_config=gateway.config,
        gateway_url=gateway.url,
        api_key=gateway.key,
        v1_bundle=bundle,
        v1_dir=models.adapters["kansai"],
        v2_source=models.next_adapters["kansai"],
        base_dir=models.base,
        work_dir=settings.cache_dir / "demo" / "lifecycle",
        cache_dir=settings.cache_dir,
    )


def _bring_in(console: Console, models: DemoModels, settings: Settings) -> tuple[DemoModels, Path]:
    """Pack, verify and load the demo kitchen; return the paths in the loaded store and the bundle."""
    from prai.kitchen.bring_in import demo_roundtrip

    with step(console, "bring-in: packing, verifying and loading the bundle"):
        adapters: dict[str, str | Path] = dict(models.adapters)
        rt = demo_roundtrip(models.base, adapters, settings.cache_dir / "demo" / "kitchen")
    console.print(
        f"[green]✓[/] bring-in (持ち込み): bundle {rt.bundle} verified, root digest {rt.root_digest}, "
        f"loaded into {rt.store} ({sum(rt.seconds.values()):.1f} s)"
    )
    return DemoModels(base=rt.model_dir, adapters=dict(rt.adapter_dirs), next_adapters=models.next_adapters), rt.bundle


def usage_text(url: str, key: str, model: str, adapter: str, python: str = sys.executable) -> str:
    """How to call the demo kitchen: a curl and an `openai` example.

    The example runs with ``python``: the interpreter PrAI runs in (its virtual
    environment has the ``openai`` package; a bare ``python`` outside it may not).
    """
    body = json.dumps({"model": adapter, "messages": [{"role": "user", "content": "こんにちは"}]}, ensure_ascii=False)
    code = (f"from openai import OpenAI; c = OpenAI(base_url='{url}/v1', api_key='{key}'); "
            f"print(c.chat.completions.create(model='{model}', "
            "messages=[{'role': 'user', 'content': 'こんにちは'}]).choices[0].message.content)")
    return (
        f"\nThe kitchen is open. API key for tenant demo / project taste (shown once):\n  {key}\n\n"
        "Try it through the gateway (Ctrl-C to stop):\n\n"
        f"  curl -s {url}/v1/chat/completions -H 'Content-Type: application/json' \\\n"
        f"    -H 'Authorization: Bearer {key}' -d '{body}'\n\n"
        f"  {shlex.quote(python)} -c {shlex.quote(code)}\n"
    )


def _print_usage(console: Console, gateway: DemoGateway, models: DemoModels) -> None:
    from prai.console.setup import login_lines

    adapter = next(iter(models.adapters))
    print(usage_text(gateway.url, gateway.key, models.served_model_name, adapter), flush=True)
    settings = get_settings()
    console_lines = login_lines(gateway.config, settings.cache_dir, gateway.url, demo_user=True, actor=settings.actor)
    print("\n".join(console_lines) + "\n", flush=True)
