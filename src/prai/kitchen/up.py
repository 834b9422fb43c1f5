"""`prai up`: the single-machine kitchen — `prai serve` engine(s) (vLLM) and the gateway together.

With a kitchen.yaml: every upstream that has a ``serve:`` block gets a ``prai serve``
child process on the port of its base URL; then the gateway runs in this process.
Without one: the demo model (``prai.engine.demo_model.ensure_demo_models``) is served as
``demo`` with its LoRA adapters, behind a gateway with one tenant (``demo``/``taste``), and
one API key is printed. Children are stopped when the gateway stops (or this process dies).

``smoke=True`` runs the taste test (味見) through the gateway with that key and exits.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from rich.console import Console

from prai._http import get_ok, http_client
from prai._wait import wait_until
from prai.engine.process import STARTING_GRACE_S, stop_serve
from prai.errors import ConfigError, EngineStartError, PraiError, TasteTestFailed
from prai.gateway.server import die_with_parent, load_gateway_config
from prai.kitchen._steps import step

DEMO_MODEL_NAME = "demo"
DEMO_TENANT, DEMO_PROJECT = "demo", "taste"
TASTE_PROMPT = "こんにちは"


def demo_model_name(models: Any) -> str:
    """The served name of the demo base model (the engine's choice, else ``demo``)."""
    return str(getattr(models, "served_model_name", None) or DEMO_MODEL_NAME)


def demo_kitchen_path(cache_dir: Path) -> Path:
    """Where `prai up` without a kitchen.yaml writes its demo kitchen (``CACHE/up/kitchen.yaml``);
    `prai keys`, `prai audit`, `prai usage`, `prai model` and `prai admin` use it when no ``-c`` /
    PRAI_KITCHEN is given."""
    return cache_dir / "up" / "kitchen.yaml"


def demo_kitchen(cache_dir: Path, *, engine_port: int, gateway_port: int, log: Callable[[str], None]) -> Path:
    """Write the demo kitchen.yaml (demo model + adapters, one tenant) and return its path.

    Raises:
        EngineNotInstalled: the demo model cannot be built (``cpu`` extra missing).
    """
    from prai.engine.demo_model import ensure_demo_models

    models = ensure_demo_models(cache_dir, log=log)
    path = demo_kitchen_path(cache_dir)
    up_dir = path.parent
    up_dir.mkdir(parents=True, exist_ok=True)
    kitchen = {
        "gateway": {
            "host": "127.0.0.1",
            "port": gateway_port,
            "upstreams": [
                {
                    "name": "demo-engine",
                    "base_urls": [f"http://127.0.0.1:{engine_port}"],
                    "serve": {
                        "model": str(models.base),
                        "served_model_name": demo_model_name(models),
                        "lora_modules": {k: str(v) for k, v in models.adapters.items()},
                    },
                }
            ],
            "tenants": [{"name": DEMO_TENANT, "projects": [{"name": DEMO_PROJECT, "models": ["*"]}]}],
            "storage": {
                "url": f"sqlite:///{up_dir / 'gateway.db'}",
                "journal_dir": str(up_dir / "journal"),
            },
        }
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(kitchen, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
    return path


def engine_command(upstream: Any) -> list[str]:
    """The ``prai serve`` command line for an upstream with a ``serve:`` block."""
    spec = upstream.serve
    port = upstream.base_urls[0].rsplit(":", 1)[1]
    cmd = [
        sys.executable,
        "-m",
        "prai.cli.main",
        "serve",
        "--model",
        str(spec.model),
        "--host",
        "127.0.0.1",
        "--port",
        port,
    ]
    if spec.served_model_name:
        cmd += ["--served-model-name", spec.served_model_name]
    if spec.lora_modules:
        cmd += ["--lora-modules", *(f"{k}={v}" for k, v in spec.lora_modules.items())]
    return cmd + list(spec.args)


def preflight_upstream(upstream: Any) -> None:
    """Run `prai serve`'s preflight for an upstream's ``serve:`` block in this process, before
    any engine starts: a typo in ``serve.model`` gets the preflight's own exit code and hint
    (as `prai serve` gives them), not an engine start failure.

    Raises:
        PraiError: the preflight's error (ModelError, AdapterError, UsageError, …), its
            message prefixed with the upstream's name.
    """
    from prai.engine.args import parse_serve_args
    from prai.engine.serve import refuse_missing_paths, run_preflight

    try:
        args = parse_serve_args(engine_command(upstream)[4:])  # after `python -m prai.cli.main serve`
        refuse_missing_paths(args)
        run_preflight(args)
    except PraiError as exc:
        exc.message = f"upstream {upstream.name} (serve:): {exc.message}"
        exc.args = (exc.message,)
        raise


def wait_engines(
    engines: list[tuple[Any, subprocess.Popen[bytes]]], timeout_s: float, log_dir: Path | None = None
) -> None:
    """Wait for every engine's ``/health`` to answer 200.

    Args:
        log_dir: where the engines' logs are (``engine-NAME.log``): their last lines go into
            the error.

    Raises:
        EngineStartError: an engine exited or was not healthy within ``timeout_s``.
    """
    pending = list(engines)

    def all_healthy() -> bool:
        while pending:
            up, proc = pending[0]
            if proc.poll() is not None:
                raise EngineStartError(
                    f"the engine for upstream {up.name} exited with code {proc.returncode}"
                    + _log_tail(log_dir, up.name)
                )
            if not get_ok(client, up.base_urls[0] + up.health_path):
                return False
            pending.pop(0)
        return True

    with http_client(timeout_s=2.0) as client:
        if wait_until(all_healthy, timeout_s=timeout_s, interval_s=1.0):
            return
    raise EngineStartError(
        f"the engine for upstream {pending[0][0].name} was not healthy after {timeout_s:.0f} s",
        hint="raise PRAI_ENGINE_READY_TIMEOUT_S, or run its `prai serve` alone to see why",
    )


def _log_tail(log_dir: Path | None, name: str, lines: int = 12) -> str:
    if log_dir is None:
        return ""
    path = log_dir / f"engine-{name}.log"
    try:
        tail = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return f"; last lines of {path}:\n" + "\n".join(tail)


def taste_test(gateway_url: str, key: str, model: str, timeout_s: float = 120.0) -> str:
    """One chat completion through the gateway with the key; returns the answer text.

    Raises:
        TasteTestFailed: no usable answer.
    """
    try:
        with http_client(timeout_s=timeout_s) as client:
            r = client.post(
                gateway_url + "/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": TASTE_PROMPT}],
                    "max_tokens": 32,
                    "temperature": 0,
                },
            )
    except httpx.HTTPError as exc:
        raise TasteTestFailed(f"taste test through the gateway failed: {type(exc).__name__}") from None
    if r.status_code != 200:
        raise TasteTestFailed(f"taste test through the gateway: HTTP {r.status_code}: {r.text[:300]}")
    text = r.json()["choices"][0]["message"]["content"] or ""
    if not text.strip():
        raise TasteTestFailed("taste test through the gateway: the answer was empty")
    return str(text)


def run_up(
    config: Path | None,
    *,
    cache_dir: Path,
    engine_port: int = 8000,
    gateway_port: int = 4000,
    engine_ready_timeout_s: float = 600.0,
    smoke: bool = False,
    log: Callable[[str], None] = print,
    console: Console | None = None,
    progress_interval_s: float = 10.0,
) -> int:
    """Start engines and the gateway; serve until interrupted (or taste-test and exit).

    Args:
        log: prints one line (the CLI's stderr console).
        console: where the engines' start is shown while it lasts (a spinner on a terminal,
            else a plain "… still starting …" line every ``progress_interval_s`` seconds,
            PRAI_PROGRESS_INTERVAL_S), as `prai demo` shows it (:func:`prai.kitchen._steps.step`);
            default: stderr.

    Returns:
        Exit code (0 = ok).

    Raises:
        ConfigError, EngineStartError, EngineNotInstalled, TasteTestFailed, PortInUse;
        a ``serve:`` block's preflight failure with `prai serve`'s own error (before any
        engine starts).
    """
    from prai.gateway import admin
    from prai.gateway.server import serve

    demo = config is None
    if config is None:
        config = demo_kitchen(cache_dir, engine_port=engine_port, gateway_port=gateway_port, log=log)
        log(f"prai up: demo kitchen {config} (pass -c {config} to prai keys / prai audit)")
    kitchen = load_gateway_config(config)
    gw = kitchen.gateway
    to_start = [u for u in gw.upstreams if u.serve is not None]
    if not gw.upstreams:
        raise ConfigError(
            f"{config}: gateway.upstreams is empty",
            hint="add an upstream (see examples/kitchen.yaml)",
        )
    from prai.engine.process import ensure_port_free

    # Every port this command will listen on, checked before anything starts (seconds, not minutes).
    for up in to_start:
        ensure_port_free("127.0.0.1", int(up.base_urls[0].rsplit(":", 1)[1]), f"upstream {up.name} port")
    ensure_port_free(gw.host, gw.port, "gateway port")
    for up in to_start:
        preflight_upstream(up)
    engines: list[tuple[Any, subprocess.Popen[bytes]]] = []
    engines_ready = False
    log_dir = cache_dir / "up" / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    try:
        for up in to_start:
            # vLLM's (and transformers') own output goes to the engine's log, not between PrAI's lines.
            log_path = log_dir / f"engine-{up.name}.log"
            log(f"prai up: starting engine {up.name} on {up.base_urls[0]} (log: {log_path})")
            with log_path.open("wb") as engine_log:
                # A session of its own: Ctrl-C reaches only this process, which stops the
                # engines in order below (and they die with it: PR_SET_PDEATHSIG).
                engines.append((up, subprocess.Popen(
                    engine_command(up), stdout=engine_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent, start_new_session=True)))
        if engines:
            started = time.monotonic()
            names = ", ".join(up.name for up, _ in engines)
            with step(console or Console(stderr=True, highlight=False, soft_wrap=True),
                      f"starting engine {names} (vLLM)", interval_s=progress_interval_s):
                wait_engines(engines, engine_ready_timeout_s, log_dir=log_dir)
            log(f"prai up: engine {names} ready in {time.monotonic() - started:.0f} s")
        engines_ready = True
        key = None
        if demo or smoke:
            engine, gwcfg = admin.open_store(config, cache_dir)
            tenant, project = (
                (DEMO_TENANT, DEMO_PROJECT) if demo else (gwcfg.tenants[0].name, gwcfg.tenants[0].projects[0].name)
            )
            key = admin.create_key(engine, gwcfg, tenant=tenant, project=project, name="prai up").key
            engine.dispose()
        url = f"http://{gw.host}:{gw.port}"
        from prai.console import build_console
        from prai.console.setup import login_lines
        from prai.settings import get_settings

        console_lines = [] if smoke else login_lines(config, cache_dir, url, demo_user=demo, actor=get_settings().actor)
        model = _first_model(to_start, gw)
        result: dict[str, Any] = {}

        def ready(host: str, port: int) -> None:
            log(f"prai up: gateway on http://{host}:{port}/v1")
            if key is not None and not smoke:
                log(f"prai up: API key (shown once): {key}")
                body = json.dumps(
                    {"model": model, "messages": [{"role": "user", "content": TASTE_PROMPT}]},
                    ensure_ascii=False,
                )
                log(
                    f"  curl {url}/v1/chat/completions -H 'Authorization: Bearer {key}' "
                    f"-H 'content-type: application/json' -d '{body}'"
                )
            for line in console_lines:
                log(f"prai up: {line}" if line.startswith("console") else line)
            if smoke:
                threading.Thread(target=_smoke, args=(url, key, model, result), daemon=True).start()

        serve(config, cache_dir=cache_dir, on_ready=ready, on_server=lambda s: result.update(server=s),
              console=build_console)
        if smoke:
            if "error" in result:
                raise result["error"]
            log(f"prai up: taste test through the gateway OK: {result.get('answer', '')!r}")
        return 0
    finally:
        # `prai serve` forwards SIGTERM to vLLM; engines still starting get STARTING_GRACE_S.
        grace_s = 10.0 if engines_ready else STARTING_GRACE_S
        stoppers = [threading.Thread(target=stop_serve, args=(proc,), kwargs={"grace_s": grace_s})
                    for _, proc in engines]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()


def _first_model(started: list[Any], gw: Any) -> str:
    for up in started:
        if up.serve.served_model_name:
            return str(up.serve.served_model_name)
        return Path(up.serve.model).name
    for up in gw.upstreams:
        if up.models:
            return str(up.models[0])
    raise ConfigError("prai up --smoke: no model to taste", hint="list the upstream's models in kitchen.yaml")


def _wait_model(url: str, key: str, model: str, deadline_s: float) -> None:
    """Wait until the gateway lists ``model`` for the key (model discovery done)."""

    def listed() -> bool:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            r = client.get(url + "/v1/models", headers={"authorization": f"Bearer {key}"})
            return any(m.get("id") == model for m in r.json().get("data", []))
        return False

    with http_client(timeout_s=5) as client:
        wait_until(listed, timeout_s=deadline_s, interval_s=0.5)


def _smoke(url: str, key: str | None, model: str, result: dict[str, Any]) -> None:
    try:
        with http_client(timeout_s=1) as client:
            wait_until(lambda: get_ok(client, url + "/health"), timeout_s=30, interval_s=0.2)
        _wait_model(url, key or "", model, deadline_s=60)
        result["answer"] = taste_test(url, key or "", model)
    except Exception as exc:
        result["error"] = exc if isinstance(exc, TasteTestFailed) else TasteTestFailed(f"taste test: {exc}")
    finally:
        result["server"].should_exit = True  # stop the gateway


__all__ = ["demo_kitchen", "demo_kitchen_path", "engine_command", "run_up", "taste_test", "wait_engines"]
