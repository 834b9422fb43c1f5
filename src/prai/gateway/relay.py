"""Relay: send an admitted request to a replica and the answer back to the client.

Route to a replica (failover on connection errors, circuit breakers: :mod:`.upstreams`),
follow a promotion that unloaded the version (one retry after a 404), then relay the
answer: a non-stream body whole (guard output filter on every choice), a stream event by
event (:class:`~prai.gateway._sse.StreamRelay`). The audit record is journaled and the
request settled in the limit store just before the last byte leaves (``on_done``).
Upstream names and URLs never reach the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from prai.db.routes import Target
from prai.errors import (
    ModelNotFound,
    PraiError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from prai.gateway._asgi import sse_error
from prai.gateway._sse import StreamRelay
from prai.gateway._state import RequestState
from prai.gateway.accounting import count_relayed
from prai.gateway.admission import route_name
from prai.gateway.aliases import AliasCache
from prai.gateway.guard_hook import filter_answer
from prai.gateway.upstreams import Replica, Router
from prai.guard.hook import Guard, GuardContext
from prai.openai_api import error_body, error_from_exception

_RETRYABLE = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)
_PATHS = {"chat.completions": "/v1/chat/completions", "completions": "/v1/completions", "embeddings": "/v1/embeddings"}
_TYPES = {400: "invalid_request_error", 404: "not_found_error", 422: "invalid_request_error",
          429: "rate_limit_error"}


def upstream_error(status: int, payload: bytes, endpoint: str, model: str | None) -> tuple[int, bytes]:
    """(status, OpenAI envelope with a hint) for a 4xx answer of a model server.

    vLLM answers ``{"error": {...}}`` (or ``{"object": "error", "message": ...}`` in older
    releases); a route the server does not have answers ``{"detail": "Not Found"}`` — an
    embeddings-only server (``--runner pooling``) asked for a chat completion, or a
    generating model asked for embeddings. The upstream's message is kept (it names the
    parameter at fault, never the upstream); 401/403 mean the gateway's own credentials
    for the upstream are wrong, which the client cannot fix: 502.
    """
    try:
        obj: Any = json.loads(payload)
    except ValueError:
        obj = None
    err = obj.get("error") if isinstance(obj, dict) else None
    message = None
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        message = err["message"]
    elif isinstance(obj, dict) and obj.get("object") == "error" and isinstance(obj.get("message"), str):
        message = obj["message"]
    name = f"`{model}`" if model else "the model"
    path = _PATHS.get(endpoint, endpoint)
    if status == 404 and message is None:  # no such route on that server
        if endpoint == "embeddings":
            message = f"{name} does not serve embeddings (its server has no {path})"
            hint = "model generates text only: use /v1/chat/completions or /v1/completions"
        else:
            message = f"{name} does not serve {path} (its server has no such route)"
            hint = "model serves embeddings only: use /v1/embeddings"
    elif status in (401, 403):
        exc = UpstreamError(f"the server for {name} refused the gateway's credentials (HTTP {status})",
                            hint="the operator checks upstreams[].api_key in kitchen.yaml")
        st, env = error_from_exception(exc)
        return st, json.dumps(env, ensure_ascii=False).encode()
    elif status == 404:
        hint = "GET /v1/models lists the models your key may use"
    elif status == 429:
        message = message or f"the server for {name} is busy (HTTP 429)"
        hint = "the model server is at capacity: retry in a moment"
    else:
        message = message or f"the server for {name} refused the request (HTTP {status})"
        hint = "fix the parameter the message names (see the OpenAI API reference)"
    body = error_body(f"{message} (hint: {hint})", type=_TYPES.get(status, "invalid_request_error"),
                      code=status)
    return status, json.dumps(body, ensure_ascii=False).encode()


class RelayStage:
    """Routing and relaying for one gateway process.

    Args:
        on_done: awaited with the request state just before the last byte of the answer
            is sent (journals the audit record, then settles limits and budgets).

    ``session`` (the upstream connection pool) is set by the app at start-up.
    """

    def __init__(
        self,
        *,
        router: Router,
        aliases: AliasCache,
        guard: Guard,
        on_done: Callable[[RequestState], Awaitable[None]],
    ) -> None:
        self.router = router
        self.aliases = aliases
        self.guard = guard
        self.on_done = on_done
        self.session: aiohttp.ClientSession | None = None

    async def forward(
        self, path: str, body: bytes, model: str, r: RequestState, send: Any, strip_usage: bool
    ) -> None:
        """Send ``body`` to a replica serving ``model`` and relay the answer to ``send``.

        Raises:
            PraiError: before the answer started (502, 503, 504; 404 for an unloaded
                pinned version).
        """
        resp, _rep, t_up = await self._connect(path, body, model, r)
        if resp.status == 404 and r.target is not None:
            # The engine no longer knows this version: a promotion or rollback unloaded it
            # since this gateway last polled the registry. Reload and go to the new version.
            retarget = await self._retarget(r)
            if retarget is not None:
                with contextlib.suppress(Exception):
                    await resp.read()
                resp.release()
                obj = json.loads(body)
                obj["model"] = retarget.served_name
                body = json.dumps(obj, ensure_ascii=False).encode()
                resp, _rep, t_up = await self._connect(
                    path, body, route_name(self.router, retarget), r
                )
            elif r.alias != r.target.name:  # a pinned NAME@VERSION
                resp.release()
                raise ModelNotFound(
                    f"the version `{r.target.served_name}` is registered but not loaded on any engine",
                    hint=f"engines serve an alias's current and canary versions: call `{r.target.name}`",
                )
            else:
                resp.release()
                raise UpstreamUnavailable(
                    f"`{r.alias}` routes to {r.target.served_name}, which no engine has loaded",
                    hint=f"the operator reloads it with `prai model promote {r.target.name} "
                    f"{r.target.version}` (an engine restart forgets runtime-loaded adapters)",
                )
        try:
            if r.stream and resp.status == 200:
                await self._relay_stream(resp, r, send, strip_usage, t_up)
            else:
                await self._relay_body(resp, r, send, t_up)
        finally:
            resp.release() if not r.disconnected else resp.close()

    async def _connect(
        self, path: str, body: bytes, model: str, r: RequestState
    ) -> tuple[aiohttp.ClientResponse, Replica, float]:
        """POST to the first replica that answers; (response, replica, start time)."""
        assert self.session is not None
        candidates = self.router.candidates(model)
        if not candidates:
            r.upstream = None
            raise UpstreamUnavailable(f"no healthy server is available for `{model}`")
        last: str = ""
        for i, rep in enumerate(candidates):
            up = rep.upstream
            r.upstream = rep.label
            t_up = time.perf_counter()
            try:
                resp = await self.session.post(
                    rep.base_url + path,
                    data=body,
                    headers=up.headers,
                    ssl=up.ssl_ctx,
                    timeout=up.timeout,
                )
            except _RETRYABLE as exc:
                rep.record_failure(time.monotonic())
                last = type(exc).__name__
                continue
            except TimeoutError:
                rep.record_failure(time.monotonic())
                raise UpstreamTimeout(f"the server for `{model}` did not answer in time") from None
            except aiohttp.ClientError as exc:
                rep.record_failure(time.monotonic())
                raise UpstreamError(
                    f"the server for `{model}` failed ({type(exc).__name__})"
                ) from None
            if resp.status >= 500:
                status = resp.status
                with contextlib.suppress(Exception):
                    await resp.read()
                resp.release()
                rep.record_failure(time.monotonic())
                if status == 503 and i + 1 < len(candidates):
                    continue
                if status == 503:
                    raise UpstreamUnavailable(f"the server for `{model}` is not ready (HTTP 503)")
                if status == 504:
                    raise UpstreamTimeout(f"the server for `{model}` timed out")
                raise UpstreamError(f"the server for `{model}` failed (HTTP {status})")
            rep.record_success()
            return resp, rep, t_up
        raise UpstreamUnavailable(f"no server for `{model}` could be reached ({last})")

    async def _retarget(self, r: RequestState) -> Target | None:
        """After a 404 for a resolved version: the alias's version now, if it changed."""
        assert r.alias is not None and r.target is not None and r.key_id is not None
        await self.aliases.refresh_now()
        new = self.aliases.resolve(r.alias, r.key_id)
        if new is None or new.served_name == r.target.served_name:
            return None
        r.target = new
        if new.kind == "adapter":
            r.model, r.adapter = new.base, new.served_name
        else:
            r.model, r.adapter = new.served_name, None
        return new

    async def _relay_body(
        self, resp: aiohttp.ClientResponse, r: RequestState, send: Any, t_up: float
    ) -> None:
        try:
            payload = await resp.read()
        except TimeoutError:
            raise UpstreamTimeout("the model server did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                f"the model server broke the connection ({type(exc).__name__})"
            ) from None
        upstream_s = time.perf_counter() - t_up
        r.status = resp.status
        if resp.status == 200:
            try:
                obj = json.loads(payload)
            except ValueError:
                raise UpstreamError("the model server sent an invalid JSON body") from None
            usage = obj.get("usage") if isinstance(obj, dict) else None
            if isinstance(usage, dict):
                r.prompt_tokens = usage.get("prompt_tokens")
                r.completion_tokens = usage.get("completion_tokens")
            if r.guard is not None and isinstance(obj, dict) and self._filter_body(obj, r.guard):
                payload = json.dumps(obj, ensure_ascii=False).encode()
            ctype = resp.headers.get("content-type", "application/json").encode()
        else:
            r.error_type = "upstream_client_error"
            r.status, payload = upstream_error(resp.status, payload, r.endpoint, r.alias or r.adapter or r.model)
            ctype = b"application/json"
        r.gw_s = (time.perf_counter() - r.t0) - upstream_s
        r.response_done = True
        await self.on_done(r)  # journaled and settled before the answer leaves
        await send(
            {
                "type": "http.response.start",
                "status": r.status,
                "headers": [
                    (b"content-type", ctype),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-prai-gateway-ms", f"{r.gw_s * 1000:.3f}".encode()),
                    (b"x-prai-request-id", r.rid.encode()),
                    *(r.extra_headers or ()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    def _filter_body(self, obj: dict[str, Any], ctx: GuardContext) -> bool:
        return filter_answer(self.guard, ctx, obj)

    async def _relay_stream(
        self,
        resp: aiohttp.ClientResponse,
        r: RequestState,
        send: Any,
        strip_usage: bool,
        t_up: float,
    ) -> None:
        ctx = r.guard
        make_filter = (lambda: self.guard.output_filter(ctx)) if ctx is not None else None
        relay = r.relay = StreamRelay(strip_usage=strip_usage, make_filter=make_filter)
        r.gw_s = t_up - r.t0  # time in the gateway before the upstream call
        r.status = 200
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-cache"),
                    (b"x-prai-gateway-ms", f"{r.gw_s * 1000:.3f}".encode()),
                    (b"x-prai-request-id", r.rid.encode()),
                    *(r.extra_headers or ()),
                ],
            }
        )
        try:
            async for chunk in resp.content.iter_any():
                out = relay.feed(chunk)
                if out:
                    if r.ttft_s is None and relay.saw_token:
                        r.ttft_s = time.perf_counter() - r.t0
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            tail = relay.finish()
        except PraiError as exc:  # a guard output filter blocked the answer (issue 5)
            r.status, r.error_type = exc.http_status, exc.error_type
            tail = sse_error(exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            r.status, r.error_type = 502, "upstream_error"
            err = UpstreamTimeout if isinstance(exc, asyncio.TimeoutError) else UpstreamError
            tail = sse_error(err("the model server stopped in the middle of the answer"))
        count_relayed(r)
        r.response_done = True
        # journaled and settled before the last byte: a client that saw the end has a
        # record, and every replica counts its usage (not its reservation)
        await self.on_done(r)
        await send({"type": "http.response.body", "body": tail, "more_body": False})


__all__ = ["RelayStage"]
