"""The adapter-mix router: a loopback HTTP proxy that spreads one GuideLLM run over adapters.

GuideLLM sends every request of a run with one model name. For a multi-LoRA run (seed
§13) PrAI points GuideLLM at this router on 127.0.0.1; for each JSON request with a
``model`` field the router picks an adapter by weight (seeded, so a run is repeatable),
rewrites ``model`` and forwards the request to the real target, streaming the answer
back unchanged. It records which adapter produced each response id (the ``id`` of the
OpenAI response or of its first SSE chunk), so the per-request records of GuideLLM's
JSON (``response_id``) can be split per adapter afterwards.

It is a router, not a load generator: timing, rates and metrics stay GuideLLM's. Its cost
(one loopback hop, a few hundred microseconds) is included in the mix run's latencies;
docs/bench.md says so.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import ssl
import threading
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from prai._http import aiohttp_session

_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"}
_ID = re.compile(rb'"id"\s*:\s*"([^"]+)"')


class MixRouter:
    """Weighted model-name router on ``127.0.0.1`` (run in a background thread).

    Args:
        target: the real server's base URL (``/v1`` suffix allowed).
        weights: adapter served name -> weight (> 0).
        seed: seed of the weighted choice.
        ca_bundle: PEM CAs for an https target (verification is never turned off).

    Attributes:
        url: ``http://127.0.0.1:PORT`` once started.
        by_response_id: response id -> adapter name.
        sent: adapter name -> requests forwarded.
    """

    def __init__(self, target: str, weights: dict[str, float], *, seed: int = 42,
                 ca_bundle: Path | None = None) -> None:
        self.target = target.rstrip("/").removesuffix("/v1")
        self.names = list(weights)
        self.weights = [weights[n] for n in self.names]
        self._rng = random.Random(seed)
        self._ssl: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else True
        )
        self.url = ""
        self.by_response_id: dict[str, str] = {}
        self.sent: Counter[str] = Counter()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._session: aiohttp.ClientSession | None = None

    def pick(self) -> str:
        """The next adapter, by weight."""
        return self._rng.choices(self.names, weights=self.weights, k=1)[0]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        body = await request.read()
        chosen: str | None = None
        if body and request.content_type == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict) and "model" in data:
                chosen = self.pick()
                data["model"] = chosen
                body = json.dumps(data).encode()
                self.sent[chosen] += 1
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        url = self.target + request.rel_url.path_qs
        try:
            upstream = await self._session.request(
                request.method, url, data=body or None, headers=headers, ssl=self._ssl
            )
        except aiohttp.ClientError as exc:
            return web.json_response(
                {"error": {"message": f"mix router: {type(exc).__name__}", "type": "upstream_error",
                           "param": None, "code": 502}}, status=502)
        async with upstream:
            out = web.StreamResponse(status=upstream.status, headers={
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP | {"content-encoding"}})
            await out.prepare(request)
            head = b""
            async for chunk in upstream.content.iter_any():
                if chosen is not None and len(head) < 8192 and not head.endswith(b"\x00"):
                    head += chunk
                    m = _ID.search(head)
                    if m:
                        self.by_response_id[m.group(1).decode()] = chosen
                        head += b"\x00"
                await out.write(chunk)
            await out.write_eof()
            return out

    async def _make_session(self) -> aiohttp.ClientSession:
        return aiohttp_session(limit=0, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))

    def start(self) -> MixRouter:
        """Start serving on a free loopback port; returns self with ``url`` set."""
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                app = web.Application(client_max_size=64 * 2**20)
                app.router.add_route("*", "/{tail:.*}", self._handle)
                runner = web.AppRunner(app, access_log=None)
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, "127.0.0.1", 0)
                loop.run_until_complete(site.start())
                self._session = loop.run_until_complete(self._make_session())
                port = runner.addresses[0][1]
                self.url = f"http://127.0.0.1:{port}"
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._session.close())
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="prai-mix-router", daemon=True)
        self._thread.start()
        ready.wait(30)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        """Stop the router and wait for its thread."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
