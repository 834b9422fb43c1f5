"""Engine benchmark: `prai serve` against bare vLLM on the same model, in the same run.

Measures, for each server variant, interleaved round by round so machine noise hits both:
  * start-up time: process start to the first HTTP 200 from /health (seconds);
  * generated tokens/s (server-reported completion tokens / wall seconds) at concurrency 1
    and 8, for the base model and for a mix of the base model and both LoRA adapters.

Both variants run the same vLLM command line and environment; `prai serve` adds its
preflight (before start-up) and its ASGI middleware (on every request). The goal (issue 2):
no measurable cost, i.e. ratios within 5 %.

Usage:
    .venv/bin/python bench/engine.py [--rounds 3] [--requests 32] [--max-tokens 64]

Prints a table of medians and the prai/bare ratios; record them in bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from prai.engine.args import parse_serve_args
from prai.engine.demo_model import ensure_demo_models
from prai.engine.process import EngineProcess
from prai.engine.serve import MIDDLEWARE, child_environment, run_preflight, vllm_command
from prai.settings import get_settings

HOST = "127.0.0.1"
PORT = 8123


class BareVllm:
    """Bare vLLM: the exact command `prai serve` would exec, minus PrAI's middleware."""

    def __init__(self, serve_args: list[str], log_path: Path) -> None:
        pre = run_preflight(parse_serve_args(serve_args))
        cmd = vllm_command(pre)
        i = cmd.index("--middleware")
        del cmd[i : i + 2]
        assert MIDDLEWARE not in cmd
        env = child_environment(pre, get_settings())
        env.pop("PRAI_SERVE_CONTEXT", None)
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def wait_health(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 600) -> float:
    start = time.monotonic()
    with httpx.Client(timeout=2, trust_env=False) as c:
        while time.monotonic() - start < timeout_s:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}")
            try:
                if c.get(url + "/health").status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    raise RuntimeError("server not ready")


async def load(url: str, models: list[str], concurrency: int, requests: int, max_tokens: int) -> float:
    """Generated tokens/s for ``requests`` chat completions at ``concurrency``."""
    cycle = itertools.cycle(models)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(requests):
        queue.put_nowait(next(cycle))
    tokens = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal tokens
        while not queue.empty():
            model = queue.get_nowait()
            r = await client.post(
                url + "/v1/chat/completions",
                json={
                    "model": model,
                    "messages": [{"role": "user", "content": "こんにちは"}],
                    "max_tokens": max_tokens,
                    "temperature": 0,
                    "ignore_eos": True,  # vLLM extension: fixed output length per request
                },
            )
            r.raise_for_status()
            tokens += r.json()["usage"]["completion_tokens"]

    async with httpx.AsyncClient(
        timeout=120, trust_env=False, limits=httpx.Limits(max_connections=concurrency)
    ) as client:
        await client.post(
            url + "/v1/chat/completions",
            json={"model": models[0], "messages": [{"role": "user", "content": "warm"}], "max_tokens": 4},
        )
        start = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return tokens / (time.perf_counter() - start)


def middleware_cost_us(calls: int = 200_000) -> tuple[float, float]:
    """CPU microseconds per request for a trivial ASGI app, direct and behind PrAI's
    middleware (process CPU time, so other jobs on a shared machine barely affect it)."""
    from prai.engine.middleware import LoraPreflightMiddleware

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        return None

    wrapped = LoraPreflightMiddleware(app)
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions"}

    async def run(target) -> float:  # type: ignore[no-untyped-def]
        start = time.process_time()
        for _ in range(calls):
            await target(scope, None, None)
        return (time.process_time() - start) / calls * 1e6

    direct = statistics.median(asyncio.run(run(app)) for _ in range(5))
    behind = statistics.median(asyncio.run(run(wrapped)) for _ in range(5))
    return direct, behind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--middleware-only", action="store_true", help="only the in-process middleware cost")
    args = ap.parse_args()
    if args.middleware_only:
        direct, behind = middleware_cost_us()
        print(f"middleware: {behind - direct:.2f} µs CPU per request ({direct:.2f} direct, {behind:.2f} behind it)")
        return

    settings = get_settings()
    models = ensure_demo_models(settings.cache_dir)
    serve_args = [
        "--model",
        str(models.base),
        "--served-model-name",
        "prai-demo",
        "--lora-modules",
        *(f"{n}={p}" for n, p in models.adapters.items()),
        "--host",
        HOST,
        "--port",
        str(PORT),
        "--max-model-len",
        "512",
    ]
    logs = settings.cache_dir / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    url = f"http://{HOST}:{PORT}"
    cases = [
        ("base c=1", ["prai-demo"], 1),
        ("base c=8", ["prai-demo"], 8),
        ("mixed c=1", ["prai-demo", *models.adapters], 1),
        ("mixed c=8", ["prai-demo", *models.adapters], 8),
    ]
    results: dict[str, dict[str, list[float]]] = {v: {} for v in ("bare", "prai")}
    for rnd in range(args.rounds):
        order = ["bare", "prai"] if rnd % 2 == 0 else ["prai", "bare"]
        for variant in order:
            if variant == "prai":
                server = EngineProcess(serve_args, logs / "prai.log")
                proc = server.proc
            else:
                bare = BareVllm(serve_args, logs / "bare.log")
                proc = bare.proc
            try:
                ready = wait_health(url, proc)
                results[variant].setdefault("start-up s", []).append(ready)
                for name, ms, conc in cases:
                    rate = asyncio.run(load(url, ms, conc, args.requests * (2 if conc > 1 else 1), args.max_tokens))
                    results[variant].setdefault(f"{name} tok/s", []).append(rate)
            finally:
                (server.stop() if variant == "prai" else bare.stop())
            print(
                f"round {rnd + 1} {variant}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in results[variant].items()),
                file=sys.stderr,
            )
    direct, behind = middleware_cost_us()
    print(f"\nmiddleware: {behind - direct:.2f} µs CPU per request ({direct:.2f} µs direct, {behind:.2f} µs behind it)")
    print(f"\nmedians of {args.rounds} rounds (demo model, {args.max_tokens} output tokens/request, ignore_eos)")
    print("| measure | bare vLLM | prai serve | prai / bare |\n|---|---|---|---|")
    for key in results["bare"]:
        b, p = statistics.median(results["bare"][key]), statistics.median(results["prai"][key])
        print(f"| {key} | {b:.1f} | {p:.1f} | {p / b:.3f} |")


if __name__ == "__main__":
    main()
