"""Small raw-ASGI send helpers and the gateway's one error answer.

Every error leaves the gateway through :func:`send_error` (before the response started)
or :func:`sse_error` (after an SSE stream started): both use
:func:`prai.openai_api.error_from_exception`, the one builder of the OpenAI envelope.
"""

from __future__ import annotations

import json
from typing import Any

from prai.errors import PraiError
from prai.openai_api import error_from_exception, sse_error_event

JSON_HEADER = (b"content-type", b"application/json")


async def send_bytes(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """One complete response (``content-length`` added)."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_json(
    send: Any, status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """``obj`` as a JSON response (UTF-8, not ASCII-escaped)."""
    await send_bytes(
        send, status, json.dumps(obj, ensure_ascii=False).encode(), [JSON_HEADER, *(headers or [])]
    )


async def send_error(send: Any, exc: PraiError) -> None:
    """The OpenAI error envelope for ``exc`` with its status and extra ``headers``
    (``retry-after``, ``x-ratelimit-*``, ``x-prai-budget-*``)."""
    status, body = error_from_exception(exc)
    await send_json(send, status, body, list(getattr(exc, "headers", None) or []))


def sse_error(exc: PraiError) -> bytes:
    """The same envelope as one SSE ``data:`` event (an error after a stream started)."""
    return sse_error_event(error_from_exception(exc)[1])


__all__ = ["JSON_HEADER", "send_bytes", "send_error", "send_json", "sse_error"]
