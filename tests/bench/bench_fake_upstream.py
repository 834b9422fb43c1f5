"""A fast OpenAI-compatible fake upstream on loopback for `prai bench` / `prai eval` tests.

Real HTTP (aiohttp) in a background thread: ``/health``, ``/v1/models``,
``/v1/chat/completions`` and ``/v1/completions`` (streaming with usage, or not),
``/stats`` (requests seen per model). Answers are scripted per model: a fixed reply, a
per-token delay (seconds) and a time to first token (seconds), so tests can make one
adapter slower than another and see it in the report.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Persona:
    """How the fake answers for one model name."""

    reply: str = "こんにちは！プライベートAIキッチンへようこそ。"
    ttft_s: float = 0.005
    token_delay_s: float = 0.001
    fail: bool = False


@dataclass
class FakeUpstream:
    """The fake server; ``url`` is set once started (``http://127.0.0.1:PORT``)."""

    personas: dict[str, Persona] = field(default_factory=dict)
    api_key: str | None = None
    block_words: tuple[str, ...] = ("1234 5678 9012",)
    models_seen: Counter[str] = field(default_factory=Counter)
    url: str = ""
    _runner: web.AppRunner | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None

    def persona(self, model: str) -> Persona:
        return self.personas.get(model) or self.personas.get("*") or Persona()

    def _authorized(self, request: web.Request) -> bool:
        if self.api_key is None:
            return True
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    async def _models(self, request: web.Request) -> web.Response:
        names = [n for n in self.personas if n != "*"] or ["fake"]
        return web.json_response(
            {"object": "list", "data": [{"id": n, "object": "model", "owned_by": "prai"} for n in names]}
        )

    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(dict(self.models_seen))

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return web.json_response(
                {"error": {"message": "bad key", "type": "authentication_error", "code": 401}}, status=401
            )
        body = await request.json()
        chat = request.path.endswith("/chat/completions")
        model = str(body.get("model", ""))
        self.models_seen[model] += 1
        p = self.persona(model)
        if any(w in json.dumps(body, ensure_ascii=False) for w in self.block_words):
            return web.json_response({"error": {
                "message": "blocked by policy default: pii.my_number", "type": "guardrail_violation",
                "param": None, "code": 400}}, status=400)
        if p.fail:
            return web.json_response({"error": {"message": "boom", "type": "server_error", "code": 500}}, status=500)
        want = body.get("max_tokens") or body.get("max_completion_tokens")
        pieces = list(p.reply)
        if want and body.get("ignore_eos"):
            pieces = [pieces[i % len(pieces)] for i in range(int(want))]
        elif want:
            pieces = pieces[: int(want)]
        prompt_tokens = len(json.dumps(body.get("messages") or body.get("prompt") or ""))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces),
                 "total_tokens": prompt_tokens + len(pieces)}
        created = int(time.time())
        rid = f"cmpl-{uuid.uuid4().hex}"
        if not body.get("stream"):
            await asyncio.sleep(p.ttft_s + p.token_delay_s * len(pieces))
            text = "".join(pieces)
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                      if chat else {"index": 0, "text": text, "finish_reason": "stop"})
            return web.json_response({"id": rid, "object": "chat.completion" if chat else "text_completion",
                                      "created": created, "model": model, "choices": [choice], "usage": usage})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await asyncio.sleep(p.ttft_s)
        obj = "chat.completion.chunk" if chat else "text_completion"
        for i, piece in enumerate(pieces):
            if i:
                await asyncio.sleep(p.token_delay_s)
            choice = ({"index": 0, "delta": {"content": piece}, "finish_reason": None} if chat
                      else {"index": 0, "text": piece, "finish_reason": None})
            chunk = {"id": rid, "object": obj, "created": created, "model": model, "choices": [choice]}
            await resp.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        last = {"id": rid, "object": obj, "created": created, "model": model, "choices": [], "usage": usage}
        await resp.write(b"data: " + json.dumps(last).encode() + b"\n\n")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    def start(self, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> FakeUpstream:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_get("/health", self._health)
            app.router.add_get("/v1/models", self._models)
            app.router.add_get("/stats", self._stats)
            app.router.add_post("/v1/chat/completions", self._generate)
            app.router.add_post("/v1/completions", self._generate)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", port, ssl_context=ssl_context)
            loop.run_until_complete(site.start())
            sock = site._server.sockets[0]  # type: ignore[union-attr]
            scheme = "https" if ssl_context else "http"
            self.url = f"{scheme}://127.0.0.1:{sock.getsockname()[1]}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
