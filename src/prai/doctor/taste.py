"""The taste test (味見, seed §11): one chat completion against a fresh endpoint.

Streams ``POST /v1/chat/completions`` with ``stream_options.include_usage`` and measures:
TTFT (seconds from sending the request to the first content token) and output tokens/s
(server-reported completion tokens divided by the request's end-to-end seconds). The
per-request decode rate after the first token is not used: on a busy machine the client
often reads the rest of a short answer in one burst, which makes it meaningless.
Used by `prai demo` and `prai doctor`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from prai._http import http_client
from prai.errors import TasteTestFailed

TASTE_PROMPT = "こんにちは"


@dataclass(frozen=True)
class TasteResult:
    """One taste test.

    Attributes:
        model: the ``model`` asked for (base model or adapter name).
        content: the answer text.
        ttft_s: time to first token (seconds).
        completion_tokens: tokens generated (server-reported usage).
        tokens_per_s: completion tokens / end-to-end seconds.
        e2e_s: end-to-end latency (seconds).
        served_by: the ``model`` the server answered with (an alias's version through the
            gateway, e.g. ``kansai@v2``).
    """

    model: str
    content: str
    ttft_s: float
    completion_tokens: int
    tokens_per_s: float
    e2e_s: float
    served_by: str = ""


def taste_test(
    base_url: str,
    model: str,
    *,
    prompt: str = TASTE_PROMPT,
    api_key: str | None = None,
    max_tokens: int = 64,
    timeout_s: float = 60.0,
    verify: bool | str = True,
) -> TasteResult:
    """Run the taste test against an OpenAI-compatible endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000`` (``/v1`` is appended when missing).
        model: served model or adapter name.
        api_key: sent as ``Authorization: Bearer`` (gateway keys); never logged.
        verify: TLS verification: True, or a CA bundle path (never disabled).

    Raises:
        TasteTestFailed: HTTP error, malformed stream, or an empty answer.
    """
    url = base_url.rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    parts: list[str] = []
    usage_tokens = 0
    served_by = ""
    first: float | None = None
    start = time.perf_counter()
    try:
        with (
            http_client(timeout_s=timeout_s, ca_file=verify if isinstance(verify, str) else None) as client,
            client.stream("POST", f"{url}/chat/completions", json=body, headers=headers) as resp,
        ):
            if resp.status_code != 200:
                resp.read()
                raise TasteTestFailed(f"{model}: HTTP {resp.status_code}: {_error_message(resp.text)}")
            for line in resp.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    raise TasteTestFailed(f"{model}: {_error_message(data)}")
                served_by = served_by or str(event.get("model") or "")
                for choice in event.get("choices") or []:
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        first = first or time.perf_counter()
                        parts.append(delta)
                if event.get("usage"):
                    usage_tokens = int(event["usage"].get("completion_tokens") or 0)
    except httpx.HTTPError as exc:
        raise TasteTestFailed(f"{model}: {type(exc).__name__}: {exc}") from None
    except json.JSONDecodeError:
        raise TasteTestFailed(f"{model}: the stream carried malformed JSON") from None
    end = time.perf_counter()
    content = "".join(parts).strip()
    if not content or first is None:
        raise TasteTestFailed(f"{model}: the answer was empty")
    e2e = end - start
    rate = usage_tokens / e2e if e2e > 0 else 0.0
    return TasteResult(model, content, first - start, usage_tokens, rate, e2e, served_by)


def _error_message(text: str) -> str:
    try:
        return str(json.loads(text)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return text[:200]
