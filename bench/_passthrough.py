"""The benchmark's anchor: a bare pass-through proxy.

Raw ASGI on uvicorn, aiohttp client; no auth, limits or audit.

Run: ``python bench/_passthrough.py PORT UPSTREAM_URL [WORKERS]``. Not part of PrAI.
"""

import sys

import aiohttp
import uvicorn

UPSTREAM = sys.argv[2] if len(sys.argv) > 2 else "http://127.0.0.1:9001"
session: aiohttp.ClientSession | None = None


async def app(scope, receive, send):
    global session
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
            else:
                await session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    async with session.post(
        UPSTREAM + scope["path"], data=body, headers={"content-type": "application/json"}
    ) as resp:
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [(b"content-type", resp.headers.get("content-type", "").encode())],
            }
        )
        async for chunk in resp.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


if __name__ == "__main__":
    uvicorn.run(
        "_passthrough:app",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        workers=int(sys.argv[3]) if len(sys.argv) > 3 else 1,
        app_dir=__import__("os").path.dirname(__file__),
    )
