"""A fake vLLM with the runtime LoRA API, for lifecycle tests (fast, no model).

Run: ``python fake_vllm.py PORT --base NAME [--adapter NAME=PATH ...] [--delay-ms 40]
[--slow NAME=MS ...] [--linger-ms MS]`` (``--slow``: that model's first token comes MS later:
a regression; ``--linger-ms``: the stream stays open that long after ``[DONE]``).

What it models of vLLM (0.32, OpenAI server with VLLM_ALLOW_RUNTIME_LORA_UPDATING):
- ``GET /v1/models``: the base model and every loaded adapter (``parent`` = base);
- ``POST /v1/load_lora_adapter`` {lora_name, lora_path}: 400 when already loaded or the
  path is not a directory; ``/v1/unload_lora_adapter`` {lora_name}: 404 when unknown;
- chat/completions for a loaded name (stream or not; the answer names the model that
  served it); unknown model → 404 like vLLM;
- ``GET /metrics``: ``vllm:num_requests_running``/``waiting`` and the
  ``vllm:lora_requests_info`` gauge (one series per label set, valued with a timestamp).

``GET /stats``: answers per model, loads/unloads in order, and ``violations``: an
adapter unloaded while requests for it were running (what a promotion must never do).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from aiohttp import web

STATE: dict[str, object] = {}


def _state(app: web.Application) -> dict:  # type: ignore[type-arg]
    return app["s"]  # type: ignore[no-any-return]


async def models(request: web.Request) -> web.Response:
    s = _state(request.app)
    data = [{"id": s["base"], "object": "model", "owned_by": "vllm", "parent": None}]
    data += [{"id": n, "object": "model", "owned_by": "vllm", "parent": s["base"]} for n in s["adapters"]]
    return web.json_response({"object": "list", "data": data})


def _err(status: int, msg: str) -> web.Response:
    return web.json_response({"error": {"message": msg, "type": "BadRequestError", "code": status}}, status=status)


async def load(request: web.Request) -> web.Response:
    s = _state(request.app)
    body = await request.json()
    name, path = body.get("lora_name"), body.get("lora_path")
    if name in s["adapters"]:
        return _err(400, f"The lora adapter '{name}' has already been loaded.")
    if not path or not Path(path).is_dir():
        return _err(400, f"Loading lora {name} failed: No adapter found for {path}")
    s["adapters"][name] = path
    s["events"].append(["load", name, time.time()])
    return web.Response(text=f"Success: LoRA adapter '{name}' added successfully.")


async def unload(request: web.Request) -> web.Response:
    s = _state(request.app)
    name = (await request.json()).get("lora_name")
    if name not in s["adapters"]:
        return _err(404, f"The lora adapter '{name}' cannot be found.")
    if s["running"].get(name):
        s["violations"].append(f"{name} unloaded with {s['running'][name]} request(s) running")
    del s["adapters"][name]
    s["events"].append(["unload", name, time.time()])
    return web.Response(text=f"Success: LoRA adapter '{name}' removed successfully.")


def _lora_info(s: dict) -> None:  # type: ignore[type-arg]
    running = ",".join(n for n, c in s["running"].items() if c and n != s["base"])
    s["lora_info"][running] = time.time()


async def chat(request: web.Request) -> web.StreamResponse:
    s = _state(request.app)
    body = await request.json()
    model = body.get("model")
    if model != s["base"] and model not in s["adapters"]:
        return _err(404, f"The model `{model}` does not exist.")
    s["running"][model] = s["running"].get(model, 0) + 1
    _lora_info(s)
    try:
        text = f"answer from {model}"
        delay = s["delay_s"]
        await asyncio.sleep(s["slow"].get(model, 0.0))
        if body.get("stream"):
            resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await resp.prepare(request)
            for i, word in enumerate(text.split()):
                await asyncio.sleep(delay / 3)
                chunk = {"id": "c", "object": "chat.completion.chunk", "model": model,
                         "choices": [{"index": 0, "delta": {"content": ("" if i == 0 else " ") + word}}]}
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
            opts = body.get("stream_options") or {}
            if opts.get("include_usage"):
                usage = {"id": "c", "object": "chat.completion.chunk", "model": model, "choices": [],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}}
                await resp.write(f"data: {json.dumps(usage)}\n\n".encode())
            await resp.write(b"data: [DONE]\n\n")
            await asyncio.sleep(s["linger"])  # some servers close the stream a moment later
            await resp.write_eof()
            s["served"][model] = s["served"].get(model, 0) + 1
            return resp
        await asyncio.sleep(delay)
        s["served"][model] = s["served"].get(model, 0) + 1
        return web.json_response({
            "id": "c", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6},
        })
    finally:
        s["running"][model] -= 1
        _lora_info(s)


async def metrics(request: web.Request) -> web.Response:
    s = _state(request.app)
    running = sum(s["running"].values())
    lines = [
        "# TYPE vllm:num_requests_running gauge",
        f'vllm:num_requests_running{{model_name="{s["base"]}"}} {running}',
        "# TYPE vllm:num_requests_waiting gauge",
        f'vllm:num_requests_waiting{{model_name="{s["base"]}"}} 0',
        "# TYPE vllm:lora_requests_info gauge",
    ]
    for names, ts in s["lora_info"].items():
        lines.append(f'vllm:lora_requests_info{{max_lora="4",running_lora_adapters="{names}",'
                     f'waiting_lora_adapters=""}} {ts}')
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def health(request: web.Request) -> web.Response:
    return web.Response(text="")


async def stats(request: web.Request) -> web.Response:
    s = _state(request.app)
    return web.json_response({k: s[k] for k in ("served", "events", "violations", "adapters", "running")})


def make_app(
    base: str, adapters: dict[str, str], delay_s: float, slow: dict[str, float], linger_s: float = 0.0
) -> web.Application:
    app = web.Application()
    app["s"] = {"base": base, "adapters": dict(adapters), "running": {}, "served": {}, "events": [],
                "violations": [], "lora_info": {}, "delay_s": delay_s, "slow": slow,
                "linger": linger_s}
    app.router.add_get("/health", health)
    app.router.add_get("/v1/models", models)
    app.router.add_post("/v1/load_lora_adapter", load)
    app.router.add_post("/v1/unload_lora_adapter", unload)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/stats", stats)
    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--base", required=True)
    ap.add_argument("--adapter", action="append", default=[])
    ap.add_argument("--delay-ms", type=float, default=40)
    ap.add_argument("--slow", action="append", default=[])
    ap.add_argument("--linger-ms", type=float, default=0, help="wait after [DONE] before closing")
    a = ap.parse_args()
    slow = {n: float(ms) / 1000 for n, ms in (x.split("=", 1) for x in a.slow)}
    web.run_app(make_app(a.base, dict(x.split("=", 1) for x in a.adapter), a.delay_ms / 1000, slow,
                         a.linger_ms / 1000),
                host="127.0.0.1", port=a.port, print=None)
