"""The taste test (味見, seed §11): one request against a fresh endpoint, in the API the model serves.

Generative models with a chat template get a chat completion, generative models without
one a (text) completion, embedding models (``--runner pooling``) an embedding request:
:func:`served_api` decides from the model's ``config.json`` (architectures) and chat
template, or from the engine's ``--runner`` / ``--task`` / ``--convert`` flags.

Chat and completions stream (``stream_options.include_usage``) and measure:
TTFT (seconds from sending the request to the first content token) and output tokens/s
(server-reported completion tokens divided by the request's end-to-end seconds). The
per-request decode rate after the first token is not used: on a busy machine the client
often reads the rest of a short answer in one burst, which makes it meaningless.
An embedding request measures its end-to-end seconds (reported as TTFT too) and the
vector's dimension. Used by `prai demo` and `prai doctor`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

from prai._http import http_client
from prai.errors import TasteTestFailed

TASTE_PROMPT = "こんにちは"
Api = Literal["chat", "completions", "embeddings"]
API_PATHS: dict[str, str] = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
}
# Hugging Face architecture names of text generators (vLLM serves them with the generate
# runner); any other architecture (BertModel, XLMRobertaModel, *ForSequenceClassification…)
# is served by vLLM's pooling runner.
_GENERATIVE = re.compile(r"(ForCausalLM|ForConditionalGeneration|LMHeadModel)$")
_POOLING_VALUES = {"pooling", "embed", "embedding", "classify", "score", "reward"}


def served_api(model_dir: Path | None = None, engine_args: Sequence[str] = ()) -> tuple[Api | None, str]:
    """Which API the taste test should use for a model, and why.

    Args:
        model_dir: the model directory, when doctor can see it (``config.json``
            ``architectures``; chat template in tokenizer_config.json, chat_template.jinja
            or chat_template.json).
        engine_args: the engine's flags (``--runner pooling``, ``--task embed``,
            ``--convert embed`` mean embeddings).

    Returns:
        (``chat`` | ``completions`` | ``embeddings``, the reason in a few words), or
        (None, "") when nothing tells.
    """
    args = list(engine_args)
    for i, a in enumerate(args):
        flag, _, value = a.partition("=")
        if flag in ("--runner", "--task", "--convert"):
            value = value or (args[i + 1] if i + 1 < len(args) else "")
            if value in _POOLING_VALUES:
                return "embeddings", f"the engine runs with {flag} {value}"
    if model_dir is None:
        return None, ""
    try:
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, ""
    archs = config.get("architectures") if isinstance(config, dict) else None
    archs = [archs] if isinstance(archs, str) else archs
    if not isinstance(archs, list) or not archs:
        return None, ""
    names = ", ".join(str(a) for a in archs)
    if not any(_GENERATIVE.search(str(a)) for a in archs):
        return "embeddings", f"{names} is not a text generator"
    if _has_chat_template(model_dir):
        return "chat", f"{names} with a chat template"
    return "completions", f"{names} without a chat template"


def _has_chat_template(d: Path) -> bool:
    if (d / "chat_template.jinja").is_file() or (d / "chat_template.json").is_file():
        return True
    try:
        tc = json.loads((d / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(tc, dict) and tc.get("chat_template"))


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
        api: the API used: ``chat``, ``completions`` or ``embeddings`` (for embeddings,
            ``content`` describes the vector and ``dimensions`` is its length).
        dimensions: length of the embedding vector (embeddings only, else 0).
    """

    model: str
    content: str
    ttft_s: float
    completion_tokens: int
    tokens_per_s: float
    e2e_s: float
    served_by: str = ""
    api: str = "chat"
    dimensions: int = 0


class ApiNotServed(TasteTestFailed):
    """The endpoint does not offer the asked API for this model (HTTP 404 without an
    OpenAI error, or the engine's "does not support" answer): try another one."""


def taste_test(
    base_url: str,
    model: str,
    *,
    prompt: str = TASTE_PROMPT,
    api_key: str | None = None,
    max_tokens: int = 64,
    timeout_s: float = 60.0,
    verify: bool | str = True,
    api: Api = "chat",
) -> TasteResult:
    """Run the taste test against an OpenAI-compatible endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000`` (``/v1`` is appended when missing).
        model: served model or adapter name.
        api_key: sent as ``Authorization: Bearer`` (gateway keys); never logged.
        timeout_s: seconds to connect and, after that, the longest silence between two
            pieces of the answer.
        verify: TLS verification: True, or a CA bundle path (never disabled).
        api: ``chat`` (POST /v1/chat/completions), ``completions`` (POST /v1/completions)
            or ``embeddings`` (POST /v1/embeddings).

    Raises:
        ApiNotServed: the endpoint does not serve ``api`` for this model.
        TasteTestFailed: HTTP error, malformed stream, or an empty answer.
    """
    url = base_url.rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    if api == "embeddings":
        return _taste_embeddings(url, model, prompt, headers, timeout_s, verify)
    body: dict[str, object] = {
        "model": model,
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if api == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    parts: list[str] = []
    usage_tokens = 0
    served_by = ""
    first: float | None = None
    start = time.perf_counter()
    try:
        with (
            http_client(timeout_s=timeout_s, ca_file=verify if isinstance(verify, str) else None) as client,
            client.stream("POST", url + API_PATHS[api], json=body, headers=headers) as resp,
        ):
            if resp.status_code != 200:
                resp.read()
                _raise_http(model, api, resp)
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
                    delta = (choice.get("delta") or {}).get("content") if api == "chat" else choice.get("text")
                    if delta:
                        first = first or time.perf_counter()
                        parts.append(delta)
                if event.get("usage"):
                    usage_tokens = int(event["usage"].get("completion_tokens") or 0)
    except httpx.TimeoutException as exc:
        raise TasteTestFailed(f"{model}: no answer within {timeout_s:g} s ({type(exc).__name__})") from None
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
    return TasteResult(model, content, first - start, usage_tokens, rate, e2e, served_by, api=api)


def taste_any(
    base_url: str, model: str, *, api: Api | None = None, **kwargs: object
) -> tuple[TasteResult, list[str]]:
    """The taste test in the API the model serves.

    Args:
        api: the API to use (see :func:`served_api`); None = not known: try chat, then
            embeddings, then completions, moving on only while the endpoint answers that
            the API is not served for this model (:class:`ApiNotServed`).
        kwargs: passed to :func:`taste_test` (api_key, timeout_s, verify, prompt).

    Returns:
        (the result, whose ``api`` says which API answered; one line per API that was
        tried first and is not served, e.g. ``chat: HTTP 404``).

    Raises:
        TasteTestFailed: the API failed for another reason, or no API is served (the
            first API's error).
    """
    if api is not None:
        return taste_test(base_url, model, api=api, **kwargs), []  # type: ignore[arg-type]
    tried: list[str] = []
    first: ApiNotServed | None = None
    for candidate in ("chat", "embeddings", "completions"):
        try:
            return taste_test(base_url, model, api=candidate, **kwargs), tried  # type: ignore[arg-type]
        except ApiNotServed as exc:
            first = first or exc
            tried.append(f"{candidate}: {exc.message.split(': ', 1)[-1]}")
    assert first is not None
    raise TasteTestFailed(f"{first.message} (and neither completions nor embeddings are served)")


def _taste_embeddings(
    url: str, model: str, prompt: str, headers: dict[str, str], timeout_s: float, verify: bool | str
) -> TasteResult:
    start = time.perf_counter()
    try:
        with http_client(timeout_s=timeout_s, ca_file=verify if isinstance(verify, str) else None) as client:
            resp = client.post(f"{url}/embeddings", json={"model": model, "input": prompt}, headers=headers)
    except httpx.TimeoutException as exc:
        raise TasteTestFailed(f"{model}: no answer within {timeout_s:g} s ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise TasteTestFailed(f"{model}: {type(exc).__name__}: {exc}") from None
    e2e = time.perf_counter() - start
    if resp.status_code != 200:
        _raise_http(model, "embeddings", resp)
    try:
        data = resp.json()
        vector = data["data"][0]["embedding"]
        served_by = str(data.get("model") or "")
    except (ValueError, KeyError, IndexError, TypeError):
        raise TasteTestFailed(f"{model}: /v1/embeddings answered 200 without data[0].embedding") from None
    if not isinstance(vector, list | str) or not vector:
        raise TasteTestFailed(f"{model}: the embedding was empty")
    dims = len(vector) if isinstance(vector, list) else 0  # str: base64 encoding_format
    content = f"a {dims}-dimensional vector" if dims else "a base64 vector"
    return TasteResult(model, content, e2e, 0, 0.0, e2e, served_by, api="embeddings", dimensions=dims)


def _raise_http(model: str, api: str, resp: httpx.Response) -> None:
    """Raise for a non-200 answer: ApiNotServed when the API is not offered for the model."""
    message = _error_message(resp.text)
    text = f"{model}: POST /v1{API_PATHS[api]} → HTTP {resp.status_code}: {message}"
    lowered = message.lower()
    not_served = (resp.status_code == 404 and not _is_model_404(resp.text)) or (
        resp.status_code in (400, 404, 405, 501)
        and any(w in lowered for w in ("does not support", "not supported", "chat template", "only: use /v1/"))
    )
    if not_served:
        raise ApiNotServed(text)
    raise TasteTestFailed(text)


def _is_model_404(text: str) -> bool:
    """An OpenAI-shaped 404 about the model itself (unknown model), not a missing route."""
    msg = _error_message(text).lower()
    return "model" in msg and ("does not exist" in msg or "not found" in msg or "unknown" in msg)


def _error_message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
        if data.get("detail"):  # FastAPI/Starlette's own 404/405 body
            return str(data["detail"])
    return text[:200]
