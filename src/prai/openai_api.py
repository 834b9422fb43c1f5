"""OpenAI/vLLM wire shapes shared by the engine middleware and the gateway.

Protocol only: pydantic models and the error envelope, no I/O, no engine imports.
The envelope follows OpenAI's API reference (``{"error": {message, type, param, code}}``),
which vLLM's ``create_error_response`` also emits.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

from prai.errors import PraiError


class WireModel(BaseModel):
    """Base for wire models: unknown fields are kept (clients send vendor extensions)."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(WireModel):
    message: str
    type: str
    param: str | None = None
    code: str | int | None = None


class ErrorResponse(WireModel):
    error: ErrorDetail


class LoadLoraAdapterRequest(WireModel):
    """Body of vLLM's ``POST /v1/load_lora_adapter`` (and ``unload_lora_adapter``)."""

    lora_name: str
    lora_path: str | None = None
    load_inplace: bool | None = None


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | int | None = None,
) -> dict[str, Any]:
    """The OpenAI error envelope as a dict, ready for ``json.dumps``."""
    return ErrorResponse(
        error=ErrorDetail(message=message, type=type, param=param, code=code)
    ).model_dump()


def error_from_exception(exc: PraiError) -> tuple[int, dict[str, Any]]:
    """(HTTP status, envelope) for a :class:`PraiError`; the hint goes into the message,
    ``param`` comes from the exception's ``param`` attribute when set.

    This is the one builder of error answers: the gateway and the engine middleware both
    use it."""
    message = f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    return exc.http_status, error_body(
        message, type=exc.error_type, param=getattr(exc, "param", None), code=exc.http_status
    )


def sse_error_event(body: dict[str, Any]) -> bytes:
    """The same envelope as an SSE ``data:`` event, for errors after a stream started."""
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


__all__ = [
    "ErrorDetail",
    "ErrorResponse",
    "LoadLoraAdapterRequest",
    "WireModel",
    "error_body",
    "error_from_exception",
    "sse_error_event",
]
