"""A loopback OpenAI-compatible upstream for the guard's gateway tests.

Run: ``python tests/guard/guard_upstream.py PORT``. ``POST /v1/chat/completions`` records
the body it received (``GET /last``) and answers with the text after ``ANSWER:`` in the
last user message, or the base64 text after ``B64:`` (else it echoes that message).
Streams send the answer three characters per SSE event, so any number in it is split
across chunks; ``DELAY_MS:n;`` anywhere in the message waits n ms between events (a model
writing at that pace). ``TOOL:`` answers with a tool call whose ``arguments`` are the text
after it (streamed three characters per event too); ``REASON:a|b`` answers with
``reasoning_content`` a and ``content`` b.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import time

from aiohttp import web

LAST: dict[str, object] = {}


def _answer(body: dict) -> str:
    msgs = body.get("messages") or []
    text = msgs[-1].get("content", "") if msgs else ""
    text = text if isinstance(text, str) else ""
    text = re.sub(r"DELAY_MS:\d+;", "", text)
    if "B64:" in text:  # an answer the gateway's input check must not see
        return base64.b64decode(text.split("B64:", 1)[1]).decode("utf-8")
    return text.split("ANSWER:", 1)[1] if "ANSWER:" in text else text


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    LAST.clear()
    LAST.update(body)
    answer = _answer(body)
    base = {"id": "chatcmpl-guard", "created": int(time.time()), "model": body.get("model")}
    usage = {"prompt_tokens": 5, "completion_tokens": len(answer), "total_tokens": 5 + len(answer)}
    tool = answer.startswith("TOOL:")
    reasoning = ""
    if tool:
        answer = answer[len("TOOL:") :]
    elif answer.startswith("REASON:"):
        reasoning, _, answer = answer[len("REASON:") :].partition("|")
    if not body.get("stream"):
        message: dict[str, object] = {"role": "assistant", "content": answer}
        if tool:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "lookup", "arguments": answer}}]}
        elif reasoning:
            message["reasoning_content"] = reasoning
        return web.json_response(
            {
                **base,
                "object": "chat.completion",
                "usage": usage,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls" if tool else "stop",
                        "message": message,
                    }
                ],
            }
        )
    resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(request)

    async def event(obj: dict) -> None:
        await resp.write(b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n")

    msgs = body.get("messages") or [{}]
    delay = re.search(r"DELAY_MS:(\d+);", str(msgs[-1].get("content", "")))
    pieces = [("reasoning_content", reasoning[i : i + 3]) for i in range(0, len(reasoning), 3)]
    pieces += [("content", answer[i : i + 3]) for i in range(0, len(answer), 3)]
    for i, (key, p) in enumerate(pieces):
        if delay and i:
            await asyncio.sleep(int(delay.group(1)) / 1000)
        last = i == len(pieces) - 1
        delta: dict[str, object] = {key: p}
        if tool:
            fn = {"arguments": p} if i else {"name": "lookup", "arguments": p}
            call = {"index": 0, "function": fn}
            if not i:
                call.update(id="call_1", type="function")
            delta = {"tool_calls": [call]}
        finish = ("tool_calls" if tool else "stop") if last else None
        await event(
            {
                **base,
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )
    opts = body.get("stream_options") or {}
    if opts.get("include_usage"):
        await event({**base, "object": "chat.completion.chunk", "choices": [], "usage": usage})
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    return resp


async def last(request: web.Request) -> web.Response:
    return web.json_response(LAST)


async def models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [{"id": "m", "object": "model"}]})


async def health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.add_routes(
        [
            web.post("/v1/chat/completions", chat),
            web.get("/last", last),
            web.get("/v1/models", models),
            web.get("/health", health),
        ]
    )
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)


if __name__ == "__main__":
    main()
