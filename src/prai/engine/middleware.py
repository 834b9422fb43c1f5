"""ASGI middleware that vLLM loads with ``--middleware`` inside its API server.

It validates ``POST /v1/load_lora_adapter`` with the same preflight as start-up, so a bad
path, an adapter for another model or one above ``--max-lora-rank`` is answered with
HTTP 400 and the reason (OpenAI error envelope) instead of vLLM's HTTP 500. Every other
request passes straight through: one string comparison per request.

Its context (base model dir, served name, max LoRA rank) comes from PRAI_SERVE_CONTEXT,
set by `prai serve` (:func:`prai.engine.serve.serve_context`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import ValidationError

from prai.errors import AdapterError, PraiError
from prai.modelfiles.adapter import inspect_adapter
from prai.modelfiles.model_dir import ModelFacts, inspect_model_dir
from prai.openai_api import LoadLoraAdapterRequest, error_body, error_from_exception
from prai.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOAD_PATH = "/v1/load_lora_adapter"
MAX_BODY_BYTES = 1 << 20


class LoraPreflightMiddleware:
    """Pure ASGI middleware; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        raw = get_settings().serve_context
        self.context: dict[str, Any] = json.loads(raw) if raw else {}
        self._model: ModelFacts | None = None

    def _model_facts(self) -> ModelFacts | None:
        if self._model is None and self.context.get("model"):
            self._model = inspect_model_dir(self.context["model"], need_chat_template=False)
        return self._model

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LOAD_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY_BYTES:
                await _reply(send, 413, error_body("request body too large", type="invalid_request_error", code=413))
                return
        problem = self.check(body)
        if problem is not None:
            await _reply(send, *problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def check(self, body: bytes) -> tuple[int, dict[str, Any]] | None:
        """(status, envelope) when the load request must be refused, else None."""
        try:
            req = LoadLoraAdapterRequest.model_validate_json(body)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors())
            return 400, error_body(f"invalid load_lora_adapter request: check {fields}", param=fields, code=400)
        if not self.context.get("enable_lora"):
            err = AdapterError(
                "LoRA is not enabled on this server", hint="restart prai serve with --enable-lora (or --lora-modules)"
            )
            return error_from_exception(err)
        if not req.lora_path:
            return None  # vLLM's resolvers may find it by name; vLLM answers
        try:
            model = self._model_facts()
            if model is not None:
                inspect_adapter(
                    req.lora_name,
                    req.lora_path,
                    model,
                    max_lora_rank=self.context.get("max_lora_rank"),
                    served_model_name=self.context.get("served_model_name"),
                )
        except PraiError as exc:
            return error_from_exception(exc)
        return None


async def _reply(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})
