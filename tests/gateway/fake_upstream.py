"""A fast fake OpenAI-compatible upstream on 127.0.0.1 for gateway tests and the benchmark.

Run: ``python tests/gateway/fake_upstream.py PORT [--name N] [--models fake,fake-lora:fake]``.
Models written ``name:parent`` are listed as LoRA adapters (``parent`` set), as vLLM does.

Behaviour chosen by the request body:
- ``"stream": true``: SSE chunks; a usage chunk only when ``stream_options.include_usage``
  (vLLM semantics), then ``data: [DONE]``;
- the text ``SLOW`` in the prompt: 200 chunks, one per 50 ms (disconnect tests);
- ``SLEEP``: answer after 2 s; ``FAIL500`` → HTTP 500;
- ``BREAK``: the stream stops mid-way without [DONE];
- ``PII``: the answer carries a phone number (split across two chunks when streamed);
- ``BADPARAM``: HTTP 400 in vLLM's older error shape (``{"object": "error", ...}``).
``--pooling``: an embeddings-only server (vLLM ``--runner pooling``): chat and completions
answer ``404 {"detail": "Not Found"}``, as a route that does not exist.
``GET /stats`` returns counters (requests, cancelled streams) and the last request body;
``POST /admin/health/down`` and ``/admin/health/up`` switch ``GET /health``.
"""

from __future__ import annotations

import asyncio
import json
import sys

STATE: dict[str, object] = {
    "requests": 0,
    "cancelled": 0,
    "completed_streams": 0,
    "last_body": None,
    "healthy": True,
}
NAME = "fake"
POOLING = False
MODELS: list[tuple[str, str | None]] = [("fake", None)]


def _resp(status: str, ctype: bytes, body: bytes) -> bytes:
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\ncontent-type: "
        + ctype
        + b"\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


def _chunk(obj: dict[str, object]) -> bytes:
    data = b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"
    return hex(len(data))[2:].encode() + b"\r\n" + data + b"\r\n"


def _chat_body(model: str, text: str, chat: bool) -> bytes:
    choice: dict[str, object] = {"index": 0, "finish_reason": "stop"}
    if chat:
        choice["message"] = {"role": "assistant", "content": text}
    else:
        choice["text"] = text
    return json.dumps(
        {
            "id": "cmpl-fake",
            "object": "chat.completion" if chat else "text_completion",
            "created": 0,
            "model": model,
            "choices": [choice],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        },
        ensure_ascii=False,
    ).encode()


async def _stream(
    writer: asyncio.StreamWriter, req: dict[str, object], chat: bool, slow: bool, brk: bool
) -> None:
    model = str(req.get("model"))
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    pieces = ["x"] * 200 if slow else ["こん", "にち", "は", f" from {NAME}"]
    if "PII" in json.dumps(req, ensure_ascii=False):
        pieces = ["連絡先は090-12", "34-5678です"]
    obj = "chat.completion.chunk" if chat else "text_completion"
    if chat:
        writer.write(
            _chunk(
                {
                    "id": "c",
                    "object": obj,
                    "created": 0,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        )
    for i, t in enumerate(pieces):
        ch = (
            {"index": 0, "delta": {"content": t}, "finish_reason": None}
            if chat
            else {"index": 0, "text": t, "finish_reason": None}
        )
        writer.write(
            _chunk({"id": "c", "object": obj, "created": 0, "model": model, "choices": [ch]})
        )
        if slow:
            await writer.drain()
            await asyncio.sleep(0.05)
            if writer.transport.is_closing():
                raise ConnectionResetError
        if brk and i == 1:
            await writer.drain()
            writer.transport.abort()
            return
    end = (
        {"index": 0, "delta": {}, "finish_reason": "stop"}
        if chat
        else {"index": 0, "text": "", "finish_reason": "stop"}
    )
    writer.write(_chunk({"id": "c", "object": obj, "created": 0, "model": model, "choices": [end]}))
    opts = req.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        writer.write(
            _chunk(
                {
                    "id": "c",
                    "object": obj,
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 10,
                        "completion_tokens": len(pieces),
                        "total_tokens": 10 + len(pieces),
                    },
                }
            )
        )
    data = b"data: [DONE]\n\n"
    writer.write(hex(len(data))[2:].encode() + b"\r\n" + data + b"\r\n0\r\n\r\n")
    STATE["completed_streams"] = int(STATE["completed_streams"]) + 1  # type: ignore[call-overload]


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            body = await reader.readexactly(length) if length else b""
            if path == "/health":
                ok = bool(STATE["healthy"])
                writer.write(
                    _resp("200 OK" if ok else "503 Service Unavailable", b"application/json", b"{}")
                )
            elif path == "/v1/models":
                data = [
                    {"id": m, "object": "model", "owned_by": "fake", **({"parent": p} if p else {})}
                    for m, p in MODELS
                ]
                writer.write(
                    _resp(
                        "200 OK",
                        b"application/json",
                        json.dumps({"object": "list", "data": data}).encode(),
                    )
                )
            elif path == "/stats":
                writer.write(
                    _resp(
                        "200 OK",
                        b"application/json",
                        json.dumps(STATE, ensure_ascii=False).encode(),
                    )
                )
            elif path.startswith("/admin/health/"):
                STATE["healthy"] = path.endswith("/up")
                writer.write(_resp("200 OK", b"application/json", b"{}"))
            elif method == "POST":
                STATE["requests"] = int(STATE["requests"]) + 1  # type: ignore[call-overload]
                req = json.loads(body)
                STATE["last_body"] = req
                text = json.dumps(req, ensure_ascii=False)
                if "SLEEP" in text:
                    await asyncio.sleep(2.0)
                if POOLING and not path.endswith("/embeddings"):
                    writer.write(_resp("404 Not Found", b"application/json", b'{"detail":"Not Found"}'))
                elif "BADPARAM" in text:
                    writer.write(
                        _resp(
                            "400 Bad Request",
                            b"application/json",
                            b'{"object": "error", "message": "temperature must be >= 0", '
                            b'"type": "BadRequestError", "param": null, "code": 400}',
                        )
                    )
                elif "FAIL500" in text:
                    writer.write(
                        _resp(
                            "500 Internal Server Error",
                            b"application/json",
                            b'{"error": {"message": "secret internal detail", "type": "x"}}',
                        )
                    )
                elif path.endswith("/embeddings"):
                    inp = req.get("input")
                    n = len(inp) if isinstance(inp, list) else 1
                    out = {
                        "object": "list",
                        "model": req.get("model"),
                        "data": [
                            {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                            for i in range(n)
                        ],
                        "usage": {"prompt_tokens": 7 * n, "total_tokens": 7 * n},
                    }
                    writer.write(_resp("200 OK", b"application/json", json.dumps(out).encode()))
                elif req.get("stream"):
                    try:
                        await _stream(
                            writer,
                            req,
                            path.endswith("/chat/completions"),
                            "SLOW" in text,
                            "BREAK" in text,
                        )
                    except (ConnectionResetError, BrokenPipeError):
                        STATE["cancelled"] = int(STATE["cancelled"]) + 1  # type: ignore[call-overload]
                        return
                    if "BREAK" in text:
                        return
                else:
                    writer.write(
                        _resp(
                            "200 OK",
                            b"application/json",
                            _chat_body(
                                str(req.get("model")),
                                "連絡先は090-1234-5678です"
                                if "PII" in text
                                else f"こんにちは！ from {NAME}",
                                path.endswith("/chat/completions"),
                            ),
                        )
                    )
            else:
                writer.write(
                    _resp(
                        "404 Not Found", b"application/json", b'{"error": {"message": "no route"}}'
                    )
                )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    port = int(args[0]) if args else 9001
    POOLING = "--pooling" in args
    if "--name" in args:
        NAME = args[args.index("--name") + 1]
    if "--models" in args:
        MODELS = [
            (m.split(":")[0], m.split(":")[1] if ":" in m else None)
            for m in args[args.index("--models") + 1].split(",")
        ]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(port))
