"""Preflight of a load test or eval target: it answers, accepts the key and serves the models.

`prai bench` and `prai eval` call :func:`check_target` before they send any request, so a
dead server, a missing API key or a mistyped ``--model`` ends in one line naming the cause
(and, for a model, the names the server does serve) instead of hundreds of failed requests.
The check is ``GET {base}/v1/models`` with the same key and CA the run uses, as
`prai doctor` does. :func:`http_failure` turns an upstream error answer (OpenAI's envelope
``{"error": {"message": ...}}``, vLLM's older ``{"message": ...}`` or FastAPI's
``{"detail": ...}``) into one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prai._http import http_client
from prai.errors import BenchTargetError

MODELS_HINT = "check --model against the names above (GET /v1/models on the target)"


def error_message(body: Any) -> str:
    """The message of an OpenAI/vLLM/FastAPI error body, or '' (one line, at most 300 chars)."""
    msg: Any = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
        elif isinstance(err, str):
            msg = err
        msg = msg or body.get("message") or body.get("detail")
    return " ".join(str(msg).split())[:300] if msg else ""


def http_failure(status: int, body: Any, reason: str = "") -> str:
    """``HTTP 404: The model `x` does not exist.`` from a status and a parsed JSON body."""
    msg = error_message(body) or reason
    return f"HTTP {status}" + (f": {msg}" if msg else "")


def check_target(base_url: str, models: list[str], *, api_key: str | None = None,
                 ca_bundle: Path | None = None, timeout_s: float = 10.0) -> list[str]:
    """Check that ``base_url`` answers ``GET /v1/models`` and lists every name in ``models``.

    Args:
        base_url: server URL (a ``/v1`` suffix is allowed).
        models: served names that the run will ask for (base model or adapters).
        api_key: sent as ``Authorization: Bearer`` (never printed).
        ca_bundle: PEM CAs for https (TLS is always verified).
        timeout_s: seconds to wait for the answer.

    Returns:
        The served names the target lists.

    Raises:
        BenchTargetError: nothing answers, no answer in time, the key is missing or
            refused (401/403), the answer is not an OpenAI model list, or a model is not
            served (the message lists the served names).
    """
    import httpx

    base = base_url.rstrip("/").removesuffix("/v1")
    url = f"{base}/v1/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with http_client(ca_file=ca_bundle, timeout_s=timeout_s, headers=headers) as client:
            r = client.get(url)
    except httpx.TimeoutException:
        raise BenchTargetError(f"GET {url}: no answer within {timeout_s:g} s",
                               hint="the server is loading, hung or saturated; read its log and retry") from None
    except httpx.HTTPError as exc:
        if "CERTIFICATE" in str(exc).upper() or "SSL" in str(exc).upper():
            raise BenchTargetError(f"{base}: TLS certificate not trusted ({type(exc).__name__})",
                                   hint="pass the internal CA's PEM file with --ca-bundle") from None
        raise BenchTargetError(f"cannot reach {base}: {type(exc).__name__}",
                               hint="is the server running? check --target (scheme, host, port), e.g. "
                               "`curl TARGET/v1/models`; for https pass --ca-bundle") from None
    try:
        body: Any = r.json()
    except ValueError:
        body = None
    if r.status_code in (401, 403):
        raise BenchTargetError(
            f"GET {url} → {http_failure(r.status_code, body, r.reason_phrase)}"
            + ("" if api_key else " (no API key was sent)"),
            hint="pass a valid key with --api-key or PRAI_API_KEY (a gateway key: `prai keys create`)")
    if r.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise BenchTargetError(
            f"GET {url} → {http_failure(r.status_code, body, r.reason_phrase)}, not an OpenAI model list",
            hint="point --target at the OpenAI-compatible server (vLLM or the PrAI gateway)")
    served = [str(m["id"]) for m in body["data"] if isinstance(m, dict) and "id" in m]
    missing = [m for m in models if m not in served]
    if missing:
        raise BenchTargetError(
            f"{base} does not serve {', '.join(repr(m) for m in missing)}; it serves: "
            f"{', '.join(served) or 'nothing'}", hint=MODELS_HINT)
    return served


__all__ = ["MODELS_HINT", "check_target", "error_message", "http_failure"]
