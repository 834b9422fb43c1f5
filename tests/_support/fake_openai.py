"""One fake OpenAI-compatible upstream on 127.0.0.1 for every test (and bench/gateway_overhead.py).

A small asyncio HTTP/1.1 server (keep-alive, chunked SSE; fast enough that the gateway
benchmark measures the gateway, not the fake). Run it in a thread (:class:`FakeOpenAI`) or
as its own process (:class:`FakeOpenAIProcess`, or
``python tests/_support/fake_openai.py PORT [options]``, see ``--help``).

Routes: ``GET /health`` (``POST /admin/health/down|up`` switches it), ``GET /v1/models``
(ids, LoRA adapters with ``parent``), ``POST /v1/chat/completions``, ``/v1/completions``
(stream or not; a usage chunk when ``stream_options.include_usage``, vLLM's semantics),
``/v1/embeddings``; ``GET /stats`` (counters and the last request body), ``GET /last``
(the last request body).

What the answer is, by configuration:

- default: ``こんにちは！ from NAME``; the prompt's words steer it: ``SLOW`` (200 chunks
  50 ms apart; a client that hangs up counts in ``cancelled``), ``SLEEP`` (2 s first),
  ``FAIL500`` (HTTP 500), ``BADPARAM`` (HTTP 400 in vLLM's older error shape,
  ``{"object": "error", "message": ...}``), ``BREAK`` (the stream stops mid-way without
  ``[DONE]``), ``PII`` (a phone number, split across two chunks when streamed);
- ``personas``: per model (``*`` for any), a fixed reply sent one character per token after
  a time to first token, with a per-token delay, or HTTP 500 (``fail``); the usage chunk
  is always sent; ``api_key`` and ``block_words`` (HTTP 400 ``guardrail_violation``) apply;
- ``echo``: the last user message (the text after ``ANSWER:``, or the base64 text after
  ``B64:``), streamed three characters per event; ``DELAY_MS:n;`` waits n ms between events;
  an answer ``TOOL:ARGS`` is a tool call (``lookup``) whose ``arguments`` are ARGS (streamed
  three characters per event too, ``finish_reason: tool_calls``); ``REASON:a|b`` answers
  with ``reasoning_content`` a and ``content`` b;
- ``lora_base``: a vLLM with the runtime LoRA API: ``/v1/load_lora_adapter`` and
  ``/v1/unload_lora_adapter`` (vLLM's 400/404 answers), unknown models answer 404,
  answers are ``answer from MODEL``, ``GET /metrics`` has ``vllm:num_requests_running``,
  ``..._waiting`` and ``vllm:lora_requests_info``; ``/stats`` records loads, unloads and
  ``violations`` (an adapter unloaded while its requests were running);
- ``pooling`` (with any of the above): an embeddings-only vLLM (``--runner pooling``): chat
  and completions answer ``404 {"detail": "Not Found"}``, a route that does not exist.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = b"application/json"


@dataclass
class Persona:
    """How the fake answers one model: reply, time to first token and per-token delay (s)."""

    reply: str = "こんにちは！プライベートAIキッチンへようこそ。"
    ttft_s: float = 0.005
    token_delay_s: float = 0.001
    fail: bool = False


@dataclass
class Answer:
    """One planned answer: text pieces (one SSE event each) and how they are paced."""

    model: str
    pieces: list[str]
    text: str
    usage: dict[str, int]
    rid: str = "cmpl-fake"
    created: int = 0
    wait_s: float = 0.0  # before a non-stream answer
    first_s: float = 0.0  # before the first piece
    between_s: float = 0.0  # between pieces
    stream_usage: dict[str, int] | None = None  # when a stream counts differently
    reasoning: list[str] = field(default_factory=list)  # reasoning_content pieces, before the text
    tool: bool = False  # the text is a tool call's arguments (finish_reason tool_calls)
    role_chunk: bool = False  # chat streams open with an empty assistant delta
    finish_chunk: bool = False  # a separate last event carries finish_reason
    finish_on_last: bool = False  # the last piece carries finish_reason
    usage_always: bool = False  # the usage event even without stream_options.include_usage
    linger_s: float = 0.0  # keep the stream open after [DONE]
    slow: bool = False  # check for a client that hung up after every piece
    break_after: int | None = None  # abort the connection after this piece index


@dataclass
class FakeOpenAI:
    """The fake upstream, configured as the module docstring says; ``start()`` runs it in a
    thread and sets ``url``; ``stats()`` reads the counters in-process."""

    name: str = "fake"
    models: list[tuple[str, str | None]] | None = None
    personas: dict[str, Persona] = field(default_factory=dict)
    echo: bool = False
    pooling: bool = False
    api_key: str | None = None
    models_need_key: bool = False  # GET /v1/models answers 401 without the key too (vLLM --api-key)
    block_words: tuple[str, ...] = ()
    lora_base: str | None = None
    adapters: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.04
    slow: dict[str, float] = field(default_factory=dict)
    linger_s: float = 0.0
    url: str = ""
    models_seen: Counter[str] = field(default_factory=Counter)
    state: dict[str, Any] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        self.state.update(requests=0, cancelled=0, completed_streams=0, last_body=None, healthy=True, health_checks=0,
                          served={}, events=[], violations=[], running={}, lora_info={})

    # --- what is listed and answered --------------------------------------------------

    def model_list(self) -> list[tuple[str, str | None]]:
        if self.lora_base is not None:
            return [(self.lora_base, None), *((n, self.lora_base) for n in self.adapters)]
        if self.models is not None:
            return self.models
        return [(n, None) for n in self.personas if n != "*"] or [("fake", None)]

    def _persona(self, model: str) -> Persona:
        return self.personas.get(model) or self.personas.get("*") or Persona()

    def _plan(self, req: dict[str, Any], text: str) -> Answer:
        model = str(req.get("model"))
        if self.lora_base is not None:
            words = f"answer from {model}".split()
            pieces = [("" if i == 0 else " ") + w for i, w in enumerate(words)]
            slow = self.slow.get(model, 0.0)
            return Answer(model, pieces, "".join(pieces), {"prompt_tokens": 3, "completion_tokens": 3,
                                                           "total_tokens": 6}, rid="c",
                          wait_s=slow + self.delay_s, first_s=slow + self.delay_s / 3,
                          between_s=self.delay_s / 3, linger_s=self.linger_s)
        if self.personas:
            p = self._persona(model)
            want = req.get("max_tokens") or req.get("max_completion_tokens")
            pieces = list(p.reply)
            if want and req.get("ignore_eos"):
                pieces = [pieces[i % len(pieces)] for i in range(int(want))]
            elif want:
                pieces = pieces[: int(want)]
            prompt_tokens = len(json.dumps(req.get("messages") or req.get("prompt") or ""))
            return Answer(model, pieces, "".join(pieces),
                          {"prompt_tokens": prompt_tokens, "completion_tokens": len(pieces),
                           "total_tokens": prompt_tokens + len(pieces)},
                          rid=f"cmpl-{uuid.uuid4().hex}", created=int(time.time()),
                          wait_s=p.ttft_s + p.token_delay_s * len(pieces), first_s=p.ttft_s,
                          between_s=p.token_delay_s, usage_always=True)
        if self.echo:
            msgs = req.get("messages") or [{}]
            last = msgs[-1].get("content", "") if isinstance(msgs[-1], dict) else ""
            last = last if isinstance(last, str) else ""
            delay = re.search(r"DELAY_MS:(\d+);", last)
            last = re.sub(r"DELAY_MS:\d+;", "", last)
            if "B64:" in last:  # an answer the gateway's input check must not see
                answer = base64.b64decode(last.split("B64:", 1)[1]).decode("utf-8")
            else:
                answer = last.split("ANSWER:", 1)[1] if "ANSWER:" in last else last
            usage = {"prompt_tokens": 5, "completion_tokens": len(answer), "total_tokens": 5 + len(answer)}
            tool, reasoning = answer.startswith("TOOL:"), ""
            if tool:
                answer = answer[len("TOOL:"):]
            elif answer.startswith("REASON:"):
                reasoning, _, answer = answer[len("REASON:"):].partition("|")
            return Answer(model, _threes(answer), answer, usage, rid="chatcmpl-guard", created=int(time.time()),
                          between_s=int(delay.group(1)) / 1000 if delay else 0.0, finish_on_last=True,
                          reasoning=_threes(reasoning), tool=tool)
        slow = "SLOW" in text
        pieces = ["x"] * 200 if slow else ["こん", "にち", "は", f" from {self.name}"]
        whole = f"こんにちは！ from {self.name}"
        if "PII" in text:
            pieces, whole = ["連絡先は090-12", "34-5678です"], "連絡先は090-1234-5678です"
        return Answer(model, pieces, whole, {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
                      between_s=0.05 if slow else 0.0, role_chunk=True, finish_chunk=True, slow=slow,
                      break_after=1 if "BREAK" in text else None,
                      stream_usage={"prompt_tokens": 10, "completion_tokens": len(pieces),
                                    "total_tokens": 10 + len(pieces)})

    # --- HTTP ---------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    k, sep, v = line.partition(":")
                    if sep:
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                if not await self._route(method, target.split("?", 1)[0], headers, body, writer):
                    return
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError, ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _route(self, method: str, path: str, headers: dict[str, str], body: bytes,
                     writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must be dropped."""
        s = self.state
        if path == "/health":
            s["health_checks"] += 1
            writer.write(_resp(200 if s["healthy"] else 503, JSON, b"{}"))
        elif path == "/v1/models" and self.models_need_key and self.api_key is not None \
                and headers.get("authorization") != f"Bearer {self.api_key}":
            writer.write(_json(401, {"error": {"message": "missing API key", "type": "authentication_error",
                                               "code": 401}}))
        elif path == "/v1/models":
            owner = "vllm" if self.lora_base is not None else self.name
            data = [{"id": m, "object": "model", "owned_by": owner, "parent": p} for m, p in self.model_list()]
            writer.write(_json(200, {"object": "list", "data": data}))
        elif path == "/stats":
            writer.write(_json(200, {**{k: v for k, v in s.items() if k != "lora_info"},
                                     "adapters": self.adapters, "models_seen": dict(self.models_seen)}))
        elif path == "/last":
            writer.write(_json(200, s["last_body"] or {}))
        elif path == "/metrics" and self.lora_base is not None:
            writer.write(_resp(200, b"text/plain", self._metrics().encode()))
        elif path.startswith("/admin/health/"):
            s["healthy"] = path.endswith("/up")
            writer.write(_resp(200, JSON, b"{}"))
        elif method == "POST" and path in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
            writer.write(self._lora_admin(path, json.loads(body or b"{}")))
        elif method == "POST" and path in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings"):
            return await self._generate(path, headers, body, writer)
        else:
            writer.write(_json(404, {"error": {"message": "no route"}}))
        return True

    async def _generate(self, path: str, headers: dict[str, str], body: bytes,
                        writer: asyncio.StreamWriter) -> bool:
        s = self.state
        s["requests"] += 1
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            writer.write(_json(401, {"error": {"message": "bad key", "type": "authentication_error", "code": 401}}))
            return True
        req = json.loads(body)
        s["last_body"] = req
        text = json.dumps(req, ensure_ascii=False)
        model = str(req.get("model", ""))
        self.models_seen[model] += 1
        default_mode = not (self.personas or self.echo or self.lora_base is not None)
        if default_mode and "SLEEP" in text:
            await asyncio.sleep(2.0)
        if self.pooling and not path.endswith("/embeddings"):
            writer.write(_resp(404, JSON, b'{"detail":"Not Found"}'))
            return True
        if default_mode and "BADPARAM" in text:
            writer.write(_json(400, {"object": "error", "message": "temperature must be >= 0",
                                     "type": "BadRequestError", "param": None, "code": 400}))
            return True
        if any(w in text for w in self.block_words):
            writer.write(_json(400, {"error": {"message": "blocked by policy default: pii.my_number",
                                               "type": "guardrail_violation", "param": None, "code": 400}}))
            return True
        if (default_mode and "FAIL500" in text) or (self.personas and self._persona(model).fail):
            secret = "secret internal detail" if default_mode else "boom"
            writer.write(_json(500, {"error": {"message": secret, "type": "server_error", "code": 500}}))
            return True
        if self.lora_base is not None and model != self.lora_base and model not in self.adapters:
            writer.write(_json(404, {"error": {"message": f"The model `{model}` does not exist.",
                                               "type": "BadRequestError", "code": 404}}))
            return True
        if path.endswith("/embeddings"):
            inp = req.get("input")
            n = len(inp) if isinstance(inp, list) else 1
            writer.write(_json(200, {
                "object": "list", "model": req.get("model"),
                "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(n)],
                "usage": {"prompt_tokens": 7 * n, "total_tokens": 7 * n},
            }))
            return True
        answer = self._plan(req, text)
        chat = path.endswith("/chat/completions")
        s["running"][model] = s["running"].get(model, 0) + 1
        self._lora_info()
        try:
            if req.get("stream"):
                try:
                    done = await self._stream(writer, answer, chat, req)
                except (ConnectionResetError, BrokenPipeError):
                    s["cancelled"] += 1
                    return False
                if not done:
                    return False
            else:
                await asyncio.sleep(answer.wait_s)
                choice: dict[str, Any] = {"index": 0, "finish_reason": "tool_calls" if answer.tool else "stop"}
                if chat and answer.tool:
                    choice["message"] = {"role": "assistant", "content": None, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": answer.text}}]}
                elif chat:
                    choice["message"] = {"role": "assistant", "content": answer.text}
                    if answer.reasoning:
                        choice["message"]["reasoning_content"] = "".join(answer.reasoning)
                else:
                    choice["text"] = answer.text
                writer.write(_json(200, {"id": answer.rid, "object": "chat.completion" if chat else "text_completion",
                                         "created": answer.created, "model": model, "choices": [choice],
                                         "usage": answer.usage}))
            s["served"][model] = s["served"].get(model, 0) + 1
            return True
        finally:
            s["running"][model] -= 1
            self._lora_info()

    async def _stream(self, writer: asyncio.StreamWriter, a: Answer, chat: bool, req: dict[str, Any]) -> bool:
        """Write one SSE answer; False when it was broken off on purpose (BREAK)."""
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        obj = "chat.completion.chunk" if chat else "text_completion"
        base = {"id": a.rid, "object": obj, "created": a.created, "model": a.model}

        def choice(content: str, finish: str | None, key: str = "content", first: bool = False) -> dict[str, Any]:
            if not chat:
                return {"index": 0, "text": content, "finish_reason": finish}
            if a.tool and content:
                fn = {"name": "lookup", "arguments": content} if first else {"arguments": content}
                call: dict[str, Any] = {"index": 0, "function": fn}
                if first:
                    call.update(id="call_1", type="function")
                return {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": finish}
            return {"index": 0, "delta": {key: content} if content or not finish else {}, "finish_reason": finish}

        if a.role_chunk and chat:
            writer.write(_event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                      "finish_reason": None}]}))
        await asyncio.sleep(a.first_s)
        pieces = [("reasoning_content", p) for p in a.reasoning] + [("content", p) for p in a.pieces]
        for i, (key, piece) in enumerate(pieces):
            if i and a.between_s and not a.slow:
                await writer.drain()
                await asyncio.sleep(a.between_s)
            last = a.finish_on_last and i == len(pieces) - 1
            finish = ("tool_calls" if a.tool else "stop") if last else None
            writer.write(_event({**base, "choices": [choice(piece, finish, key, first=i == 0)]}))
            if a.slow:
                await writer.drain()
                await asyncio.sleep(a.between_s)
                if writer.transport.is_closing():
                    raise ConnectionResetError
            if a.break_after == i:
                await writer.drain()
                writer.transport.abort()
                return False
        if a.finish_chunk:
            writer.write(_event({**base, "choices": [choice("", "stop")]}))
        opts = req.get("stream_options")
        if a.usage_always or (isinstance(opts, dict) and opts.get("include_usage")):
            writer.write(_event({**base, "choices": [], "usage": a.stream_usage or a.usage}))
        writer.write(_chunk(b"data: [DONE]\n\n"))
        if a.linger_s:
            await writer.drain()
            await asyncio.sleep(a.linger_s)  # some servers close the stream a moment later
        writer.write(b"0\r\n\r\n")
        self.state["completed_streams"] += 1
        return True

    # --- vLLM's runtime LoRA API --------------------------------------------------------

    def _lora_admin(self, path: str, body: dict[str, Any]) -> bytes:
        s = self.state
        name, lpath = body.get("lora_name"), body.get("lora_path")

        def err(status: int, msg: str) -> bytes:
            return _json(status, {"error": {"message": msg, "type": "BadRequestError", "code": status}})

        if path.endswith("/load_lora_adapter"):
            if name in self.adapters:
                return err(400, f"The lora adapter '{name}' has already been loaded.")
            if not lpath or not Path(lpath).is_dir():
                return err(400, f"Loading lora {name} failed: No adapter found for {lpath}")
            self.adapters[str(name)] = str(lpath)
            s["events"].append(["load", name, time.time()])
            return _resp(200, b"text/plain", f"Success: LoRA adapter '{name}' added successfully.".encode())
        if name not in self.adapters:
            return err(404, f"The lora adapter '{name}' cannot be found.")
        if s["running"].get(name):
            s["violations"].append(f"{name} unloaded with {s['running'][name]} request(s) running")
        del self.adapters[str(name)]
        s["events"].append(["unload", name, time.time()])
        return _resp(200, b"text/plain", f"Success: LoRA adapter '{name}' removed successfully.".encode())

    def _lora_info(self) -> None:
        s = self.state
        running = ",".join(n for n, c in s["running"].items() if c and n != self.lora_base)
        s["lora_info"][running] = time.time()

    def _metrics(self) -> str:
        s = self.state
        lines = [
            "# TYPE vllm:num_requests_running gauge",
            f'vllm:num_requests_running{{model_name="{self.lora_base}"}} {sum(s["running"].values())}',
            "# TYPE vllm:num_requests_waiting gauge",
            f'vllm:num_requests_waiting{{model_name="{self.lora_base}"}} 0',
            "# TYPE vllm:lora_requests_info gauge",
        ]
        for names, ts in s["lora_info"].items():
            lines.append(f'vllm:lora_requests_info{{max_lora="4",running_lora_adapters="{names}",'
                         f'waiting_lora_adapters=""}} {ts}')
        return "\n".join(lines) + "\n"

    # --- running ------------------------------------------------------------------------

    async def serve(self, port: int, ssl_context: ssl.SSLContext | None = None,
                    ready: threading.Event | None = None) -> None:
        """Serve on 127.0.0.1:``port`` (0: a free one) until the loop stops."""
        server = self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, backlog=4096,
                                                           ssl=ssl_context)
        bound = server.sockets[0].getsockname()[1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{bound}"
        if ready is not None:
            ready.set()
        async with server:
            await server.serve_forever()

    def start(self, port: int = 0, ssl_context: ssl.SSLContext | None = None) -> FakeOpenAI:
        """Serve in a background thread; returns self with ``url`` set."""
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            # stop() closes the server; if the loop does not wind down it stops the loop
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                loop.run_until_complete(self.serve(port, ssl_context, ready))
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake upstream did not start")
        return self

    def stop(self) -> None:
        """Close the server started by :meth:`start` and wait for its thread."""
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._close)
        if self._thread is not None:
            self._thread.join(2)
            if self._thread.is_alive() and self._loop is not None:  # a handler still holds the loop
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(5)

    def _close(self) -> None:
        """Close the server and every open connection (idle keep-alive ones included)."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()

    def stats(self) -> dict[str, Any]:
        return dict(self.state)


def _resp(status: int, ctype: bytes, body: bytes) -> bytes:
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
              500: "Internal Server Error", 503: "Service Unavailable"}[status]
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: ".encode() + ctype
            + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


def _json(status: int, obj: Any) -> bytes:
    return _resp(status, JSON, json.dumps(obj, ensure_ascii=False).encode())


def _threes(text: str) -> list[str]:
    return [text[i: i + 3] for i in range(0, len(text), 3)]


def _chunk(data: bytes) -> bytes:
    return hex(len(data))[2:].encode() + b"\r\n" + data + b"\r\n"


def _event(obj: dict[str, Any]) -> bytes:
    return _chunk(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")


# --- as a process ------------------------------------------------------------------------


class FakeOpenAIProcess:
    """The fake upstream as its own process on a free port (``url``, ``stats()``, ``stop()``).

    Args:
        name / models / echo / pooling: as :class:`FakeOpenAI` (``models``: ``"a,b:a"``, ``b`` an
            adapter of ``a``).
        base, adapters, delay_ms, slow, linger_ms: the fake vLLM (``lora_base`` ...; ``slow``:
            model → extra ms before its first token).
    """

    def __init__(self, name: str = "fake", models: str | None = None, *, echo: bool = False, pooling: bool = False,
                 base: str | None = None, adapters: dict[str, str] | None = None, delay_ms: float = 40,
                 slow: dict[str, float] | None = None, linger_ms: float = 0) -> None:
        from tests._support.net import free_port, wait_http  # (this file also runs as a script)

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, __file__, str(self.port), "--name", name, "--delay-ms", str(delay_ms),
               "--linger-ms", str(linger_ms)]
        cmd += ["--models", models] if models else []
        cmd += ["--echo"] if echo else []
        cmd += ["--pooling"] if pooling else []
        cmd += ["--base", base] if base else []
        cmd += [f"--adapter={n}={p}" for n, p in (adapters or {}).items()]
        cmd += [f"--slow={n}={ms}" for n, ms in (slow or {}).items()]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            wait_http(self.url + "/health", proc=self.proc, timeout_s=20)
        except TimeoutError:
            self.stop()
            raise

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + "/stats", timeout=10) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data

    def set_health(self, up: bool) -> None:
        req = urllib.request.Request(self.url + ("/admin/health/up" if up else "/admin/health/down"),
                                     data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10):
            pass

    def stop(self) -> None:
        """Kill the process (a fake keeps nothing worth a graceful shutdown)."""
        self.proc.kill()
        self.proc.wait(10)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="A fake OpenAI-compatible upstream on 127.0.0.1.")
    ap.add_argument("port", type=int)
    ap.add_argument("--name", default="fake", help="named in the default answer")
    ap.add_argument("--models", help="listed models: a,b:a (b is a LoRA adapter of a)")
    ap.add_argument("--echo", action="store_true", help="answer with the last user message")
    ap.add_argument("--pooling", action="store_true", help="embeddings only: chat and completions are 404")
    ap.add_argument("--base", help="a vLLM with the runtime LoRA API serving this base model")
    ap.add_argument("--adapter", action="append", default=[], help="NAME=PATH loaded at start (with --base)")
    ap.add_argument("--delay-ms", type=float, default=40, help="--base: answer time (ms)")
    ap.add_argument("--slow", action="append", default=[], help="--base: NAME=MS later first token")
    ap.add_argument("--linger-ms", type=float, default=0, help="--base: wait after [DONE] before closing")
    a = ap.parse_args(argv)
    models = None
    if a.models:
        models = [(m.split(":")[0], m.split(":")[1] if ":" in m else None) for m in a.models.split(",")]
    fake = FakeOpenAI(
        name=a.name, models=models, echo=a.echo, pooling=a.pooling, lora_base=a.base,
        adapters=dict(x.split("=", 1) for x in a.adapter), delay_s=a.delay_ms / 1000,
        slow={n: float(ms) / 1000 for n, ms in (x.split("=", 1) for x in a.slow)}, linger_s=a.linger_ms / 1000,
    )
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(fake.serve(a.port))


if __name__ == "__main__":
    main()
