"""The gateway's ASGI application (raw ASGI on uvicorn: no framework on the hot path).

Pipeline of ``POST /v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``:

  authenticate (in-memory key cache) → read body (413 above ``max_body_bytes``) → parse
  → project policy (404 unknown model, 403 not allowed, 400 ``max_tokens`` over the limit)
  → guard input hook → limits (429) → route to a replica (failover on connection errors,
  circuit breakers) → relay (non-stream: whole body; stream: event by event) → guard
  output hook → usage → token-limit correction → audit record (journaled) → metrics.

Every error is the OpenAI envelope from :mod:`prai.openai_api`; after an SSE stream has
started, an error goes out as one ``data:`` event. Upstream names and URLs never reach the
client (they are in the audit record). Each answer carries ``x-prai-gateway-ms``: the time
spent in the gateway itself (for streams: up to the response headers), and
``x-prai-request-id`` (the audit record's ``rid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from prai._http import aiohttp_session
from prai.config.gateway import GatewayConfig, LimitsConfig, ProjectConfig
from prai.db.engine import open_engine
from prai.db.routes import Target
from prai.errors import (
    AuthenticationFailed,
    BadRequest,
    BodyTooLarge,
    ModelNotAllowed,
    ModelNotFound,
    PraiError,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from prai.gateway._sse import StreamRelay
from prai.gateway.aliases import AliasCache
from prai.gateway.audit import AuditWriter
from prai.gateway.auth import KeyCache
from prai.gateway.guard_hook import Guard, GuardContext, NoGuard, filter_answer, load_guard
from prai.gateway.metrics import GatewayMetrics
from prai.gateway.ratelimit import Admission, Limiter, estimate_tokens
from prai.gateway.upstreams import Replica, Router
from prai.openai_api import error_body, sse_error_event

log = logging.getLogger("prai.gateway")

#: Seconds after which a request starts watching for the client's disconnect.
WATCH_AFTER_S = 0.05
ENDPOINTS = {
    "/v1/chat/completions": "chat.completions",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
}
_JSON = (b"content-type", b"application/json")
# Request ids: a random per-process prefix and a counter (uuid4 costs a urandom call).
_RID_PREFIX = uuid.uuid4().hex[:12]
_RID_COUNTER = itertools.count(1)
_RETRYABLE = (aiohttp.ClientConnectorError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


class _Req:
    """Per-request state that ends up in the audit record."""

    __slots__ = (
        "adapter",
        "alias",
        "client",
        "completion_tokens",
        "disconnected",
        "endpoint",
        "error_type",
        "guard",
        "gw_s",
        "key_id",
        "latency_s",
        "model",
        "project",
        "prompt",
        "prompt_est",
        "prompt_tokens",
        "recorded",
        "relay",
        "response_done",
        "rid",
        "status",
        "stream",
        "t0",
        "target",
        "tenant",
        "ts_us",
        "ttft_s",
        "upstream",
        "watcher",
    )

    def __init__(self, endpoint: str, client: str | None) -> None:
        self.rid = f"{_RID_PREFIX}{next(_RID_COUNTER):012x}"
        self.t0 = time.perf_counter()
        self.ts_us = time.time_ns() // 1000
        self.endpoint = endpoint
        self.client = client
        self.tenant: str | None = None
        self.project: str | None = None
        self.key_id: str | None = None
        self.model: str | None = None
        self.adapter: str | None = None
        self.alias: str | None = None
        self.target: Target | None = None
        self.stream = False
        self.status = 500
        self.error_type: str | None = None
        self.prompt_tokens: int | None = None
        self.prompt_est: int | None = None
        self.relay: StreamRelay | None = None
        self.completion_tokens: int | None = None
        self.ttft_s: float | None = None
        self.gw_s: float | None = None
        self.upstream: str | None = None
        self.guard: GuardContext | None = None
        self.prompt: str | None = None
        self.disconnected = False
        self.response_done = False
        self.watcher: asyncio.Task[None] | None = None
        self.recorded = False
        self.latency_s = 0.0


def _min_limit(a: int | None, b: int | None) -> int | None:
    vals = [v for v in (a, b) if v]
    return min(vals) if vals else None


def _has_limits(lim: LimitsConfig) -> bool:
    return bool(lim.requests_per_minute or lim.tokens_per_minute or lim.concurrent_requests)


def _prompt_text(endpoint: str, data: dict[str, Any]) -> str:
    """The text of a request that counts as prompt (for estimates and masked audit)."""
    parts: list[str] = []

    def add(v: Any) -> None:
        if isinstance(v, str):
            parts.append(v)
        elif isinstance(v, list):
            for x in v:
                if isinstance(x, str):
                    parts.append(x)
                elif isinstance(x, dict):
                    add(x.get("text") if "text" in x else x.get("content"))

    if endpoint == "chat.completions":
        add(data.get("messages"))
    elif endpoint == "completions":
        add(data.get("prompt"))
    else:
        add(data.get("input"))
    return "\n".join(parts)


def _prompt_count(endpoint: str, data: dict[str, Any]) -> int:
    """Prompts in a completions request: a list of strings or of token-id lists counts each."""
    prompt = data.get("prompt") if endpoint == "completions" else None
    if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
        return len(prompt)
    return 1


class GatewayApp:
    """The ASGI callable; create with a loaded kitchen config.

    Args:
        kitchen: :class:`prai.config.KitchenConfig` with a ``gateway`` section.
        cache_dir: default location of the SQLite file and audit journal (PRAI_CACHE_DIR).
        guard: a guard implementation; default: :func:`load_guard`.
        config_path: kitchen.yaml, for the console (doctor runs with it).

    Raises:
        ConfigError: no ``gateway`` section, or a project's guard policy is not defined.
        StorageError: the database cannot be opened.
    """

    def __init__(
        self, kitchen: Any, *, cache_dir: Path, guard: Guard | None = None, config_path: Path | None = None
    ) -> None:
        cfg: GatewayConfig = kitchen.gateway
        self.cfg = cfg
        self.metrics = GatewayMetrics()
        self.router = Router(cfg.upstreams, self.metrics)
        self.projects: dict[tuple[str, str], ProjectConfig] = {
            (t.name, p.name): p for t in cfg.tenants for p in t.projects
        }
        self.allowed: dict[tuple[str, str], frozenset[str] | None] = {
            k: None if "*" in p.models else frozenset(p.models) for k, p in self.projects.items()
        }
        self.guard: Guard = guard if guard is not None else load_guard(kitchen)
        url = cfg.storage.url or f"sqlite:///{cache_dir / 'gateway.db'}"
        self.engine = open_engine(url)
        self.journal_dir = cfg.storage.journal_dir or (cache_dir / "gateway-journal")
        self.keys = KeyCache(self.engine, refresh_s=cfg.key_cache_refresh_s)
        self.aliases = AliasCache(self.engine, refresh_s=cfg.routing_refresh_s)
        self.audit: AuditWriter | None = None
        self.limiter: Limiter | None = None
        self.session: aiohttp.ClientSession | None = None
        self.started = False
        # --- console hook (issue 17): /admin and /console go to the console's own app ---
        self.console: Any = None
        if cfg.console.enabled:
            from prai.gateway.console import build_console

            self.console = build_console(cfg, self.engine, cache_dir=cache_dir, config_path=config_path)

    # --- lifecycle ---------------------------------------------------------------------

    async def startup(self) -> None:
        """Open the upstream connection pool, load keys, start audit and health checks."""
        self.session = aiohttp_session(
            limit=0, keepalive_timeout_s=60, ttl_dns_cache_s=300, timeout=aiohttp.client.DEFAULT_TIMEOUT,
            auto_decompress=False, skip_auto_headers=("User-Agent",),
        )
        self.limiter = Limiter(self.cfg.ratelimit.url)
        self.keys.start()
        self.aliases.start()
        self.audit = await asyncio.to_thread(
            AuditWriter,
            self.engine,
            self.journal_dir,
            batch_max=self.cfg.storage.batch_max,
            flush_interval_s=self.cfg.storage.flush_interval_s,
        )
        await self.router.start(self.session)
        self.started = True

    async def shutdown(self) -> None:
        await self.router.stop()
        await self.keys.stop()
        await self.aliases.stop()
        if self.session is not None:
            await self.session.close()
        if self.limiter is not None:
            await self.limiter.close()
        if self.audit is not None:
            await asyncio.to_thread(self.audit.close)
        self.engine.dispose()

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.error("gateway start-up failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- ASGI entry --------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        path, method = scope["path"], scope["method"]
        endpoint = ENDPOINTS.get(path)
        if endpoint is not None and method == "POST":
            await self._proxy(scope, receive, send, endpoint)
        elif path == "/v1/models" and method == "GET":
            await self._models(scope, send)
        elif path in ("/health", "/healthz"):
            await _send_json(send, 200, {"status": "ok"})
        elif path == "/metrics" and method == "GET":
            body = self.metrics.render()
            await _send(
                send, 200, body, [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
            )
        elif self.console is not None and path.startswith(("/admin", "/console")):
            await self.console(scope, receive, send)  # console hook (issue 17)
        elif endpoint is not None or path == "/v1/models":
            await _send_json(send, 405, error_body(f"{method} is not allowed on {path}", code=405))
        else:
            await _send_json(
                send, 404, error_body(f"no route {path}", type="not_found_error", code=404)
            )

    # --- /v1/models --------------------------------------------------------------------

    async def _models(self, scope: dict[str, Any], send: Any) -> None:
        try:
            auths = [v for k, v in scope["headers"] if k == b"authorization"]
            if len(auths) > 1:
                raise _duplicate_authorization()
            key = await self.keys.check(bytes(auths[0]) if auths else None)
            if (key.tenant, key.project) not in self.projects:
                raise AuthenticationFailed(f"API key {key.id}: its project is no longer configured")
        except PraiError as exc:
            await _send_error(send, exc)
            return
        allowed = self.allowed[(key.tenant, key.project)]
        models = self.router.models()
        for alias, route in self.aliases.routes.items():
            cur = route.current
            if cur is not None:
                models.setdefault(alias, cur.base if cur.kind == "adapter" else None)
        data = []
        for name, parent in sorted(models.items()):
            version = self.aliases.versions.get(name)
            if allowed is None or name in allowed or (version is not None and version.name in allowed):
                entry: dict[str, Any] = {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "prai",
                }
                if parent:
                    entry["parent"] = parent
                data.append(entry)
        await _send_json(send, 200, {"object": "list", "data": data})

    # --- the proxy pipeline ------------------------------------------------------------

    async def _proxy(self, scope: dict[str, Any], receive: Any, send: Any, endpoint: str) -> None:
        client = scope.get("client")
        r = _Req(endpoint, client[0] if client else None)
        adm: Admission | None = None
        self.metrics.in_flight.inc()
        task = asyncio.current_task()
        arm: asyncio.TimerHandle | None = None
        try:
            authorization = content_length = None
            for k, v in scope["headers"]:
                if k == b"authorization":
                    if authorization is not None:
                        raise _duplicate_authorization()
                    authorization = v
                elif k == b"content-length":
                    content_length = v
            key = await self.keys.check(authorization)
            r.tenant, r.project, r.key_id = key.tenant, key.project, key.id
            body = await self._read_body(receive, content_length)
            try:
                data = json.loads(body)
            except ValueError:
                raise BadRequest("the request body is not valid JSON") from None
            except RecursionError:
                raise _too_deep() from None
            if not isinstance(data, dict):
                raise BadRequest("the request body must be a JSON object")
            model = data.get("model")
            if not isinstance(model, str) or not model:
                exc = BadRequest("`model` is required and must be a string")
                exc.param = "model"  # type: ignore[attr-defined]
                raise exc
            proj = self.projects.get((key.tenant, key.project))
            if proj is None:
                raise AuthenticationFailed(f"API key {key.id}: its project is no longer configured")
            target = self.aliases.resolve(model, key.id)
            if target is None and not self.router.knows(model):
                if self.router.discovery_pending():
                    raise UpstreamUnavailable(
                        f"the model `{model}` is not known yet: the model servers are starting"
                    )
                raise ModelNotFound(f"the model `{model}` does not exist")
            allowed = self.allowed[(key.tenant, key.project)]
            if allowed is not None and model not in allowed and (target is None or target.name not in allowed):
                raise ModelNotAllowed(f"project {key.tenant}/{key.project} may not use `{model}`")
            changed = self._apply_request_limits(endpoint, data, proj, r)
            route_model = model
            if target is not None:
                # An alias (or a pinned NAME@VERSION): send the version's served name.
                r.alias, r.target = model, target
                route_model = self._route_name(target)
                if target.kind == "adapter":
                    r.model, r.adapter = target.base, target.served_name
                else:
                    r.model = target.served_name
                if data["model"] != target.served_name:
                    data["model"], changed = target.served_name, True
            else:
                parent = self.router.parent_of(model)
                r.model, r.adapter = (parent, model) if parent else (model, None)
            if proj.guard_policy and not isinstance(self.guard, NoGuard):
                r.guard = GuardContext(
                    policy=proj.guard_policy,
                    tenant=key.tenant,
                    project=key.project,
                    key_id=key.id,
                    model=model,
                    endpoint=endpoint,
                )
                new = await self.guard.check_input(r.guard, data)
                if new is not None:
                    data, changed = new, True
                if proj.audit_prompts == "masked":
                    r.prompt = r.guard.masked_prompt
            if _has_limits(proj.limits) or _has_limits(proj.key_limits):
                tpm = proj.limits.tokens_per_minute or proj.key_limits.tokens_per_minute
                if tpm:
                    r.prompt_est = estimate_tokens(_prompt_text(endpoint, data))
                assert self.limiter is not None
                try:
                    adm = await self.limiter.admit(
                        project_scope=f"{key.tenant}/{key.project}",
                        key_scope=f"key:{key.id}",
                        project_limits=proj.limits,
                        key_limits=proj.key_limits,
                        prompt_tokens=r.prompt_est or 0,
                    )
                except RateLimited:
                    self.metrics.child(self.metrics.rejections, key.tenant, key.project).inc()
                    raise
            strip_usage = False
            if r.stream:
                opts = data.get("stream_options")
                if not (isinstance(opts, dict) and opts.get("include_usage")):
                    data["stream_options"] = {
                        **(opts if isinstance(opts, dict) else {}),
                        "include_usage": True,
                    }
                    strip_usage, changed = True, True
            if changed:
                body = json.dumps(data, ensure_ascii=False).encode()
            # Disconnect watching starts after WATCH_AFTER_S: answers faster than that never
            # pay for the extra task; a client that leaves later cancels the upstream call.
            arm = asyncio.get_running_loop().call_later(
                WATCH_AFTER_S, self._arm_watch, receive, task, r
            )
            await self._forward(scope["path"], body, route_model, r, send, strip_usage)
        except RecursionError:  # a deeply nested body that json.loads accepted
            exc = _too_deep()
            r.status, r.error_type = exc.http_status, exc.error_type
            if not r.response_done:
                self._record(r)
                await _send_error(send, exc)
        except PraiError as exc:
            r.status = exc.http_status
            r.error_type = exc.error_type
            if not r.response_done:
                self._record(r)
                await _send_error(send, exc)
        except asyncio.CancelledError:
            if not r.disconnected or task is None:
                raise
            task.uncancel()
            if r.relay is None or not r.relay.saw_done:
                r.status, r.error_type = 499, "client_disconnected"
            # else: the client left after [DONE] (the openai SDK closes at once): answered in full
        finally:
            if arm is not None:
                arm.cancel()
            if r.watcher is not None:
                r.watcher.cancel()
            _count_relayed(r)
            if adm is not None and self.limiter is not None:
                # A Redis hiccup must not fail an answered request nor keep a slot taken.
                if adm.token_scopes and (r.prompt_tokens is not None or r.completion_tokens):
                    prompt = r.prompt_tokens if r.prompt_tokens is not None else adm.charged_tokens
                    with contextlib.suppress(Exception):
                        await self.limiter.correct_tokens(adm, prompt + (r.completion_tokens or 0))
                with contextlib.suppress(Exception):
                    await self.limiter.release(adm)
            self.metrics.in_flight.dec()
            self._finish(r)

    def _apply_request_limits(
        self, endpoint: str, data: dict[str, Any], proj: ProjectConfig, r: _Req
    ) -> bool:
        """Validate ``stream``/``max_tokens`` against the project; True when ``data`` changed."""
        stream = data.get("stream", False)
        if stream not in (True, False, None):
            raise BadRequest("`stream` must be true or false")
        r.stream = bool(stream) and endpoint != "embeddings"
        if endpoint == "embeddings":
            return False
        cap = _min_limit(proj.limits.max_tokens_per_request, proj.key_limits.max_tokens_per_request)
        if cap is None:
            return False
        # The cap is per request: every choice (`n`) of every prompt generates up to max_tokens.
        n = data.get("n")
        if n is None:
            n = 1
        elif not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise BadRequest("`n` must be a positive integer")
        answers = n * _prompt_count(endpoint, data)
        per = f" × {answers} answers (n × prompts)" if answers > 1 else ""
        asked = False
        for name in ("max_tokens", "max_completion_tokens"):
            v = data.get(name)
            if v is None:
                continue
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise BadRequest(f"`{name}` must be a positive integer")
            if v * answers > cap:
                raise BadRequest(
                    f"`{name}` is {v}{per} but project {r.tenant}/{r.project} allows at most "
                    f"{cap} tokens per request",
                    hint=f"send {name} × n × prompts <= {cap}",
                )
            asked = True
        if not asked:
            if cap // answers < 1:
                raise BadRequest(
                    f"{answers} answers (n × prompts) but project {r.tenant}/{r.project} allows "
                    f"at most {cap} tokens per request",
                    hint=f"send n × prompts <= {cap}",
                )
            data["max_tokens"] = cap // answers
            return True
        return False

    async def _read_body(self, receive: Any, content_length: bytes | None) -> bytes:
        limit = self.cfg.max_body_bytes
        if content_length is not None:
            try:
                if int(content_length) > limit:
                    raise BodyTooLarge(
                        f"the request body is {int(content_length)} bytes; the limit is {limit}"
                    )
            except ValueError:
                raise BadRequest("invalid Content-Length header") from None
        chunks: list[bytes] = []
        size = 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise BadRequest("the client closed the connection while sending the body")
            b = msg.get("body", b"")
            size += len(b)
            if size > limit:
                raise BodyTooLarge(f"the request body exceeds the limit of {limit} bytes")
            chunks.append(b)
            if not msg.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _arm_watch(self, receive: Any, task: asyncio.Task[Any] | None, r: _Req) -> None:
        if not r.response_done:
            r.watcher = asyncio.get_running_loop().create_task(self._watch(receive, task, r))

    async def _watch(self, receive: Any, task: asyncio.Task[Any] | None, r: _Req) -> None:
        """Cancel the request's task when the client disconnects (cancels the upstream call)."""
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                break
        if not r.response_done and task is not None:
            r.disconnected = True
            task.cancel()

    async def _connect(
        self, path: str, body: bytes, model: str, r: _Req
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

    async def _forward(
        self, path: str, body: bytes, model: str, r: _Req, send: Any, strip_usage: bool
    ) -> None:
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
                resp, _rep, t_up = await self._connect(path, body, self._route_name(retarget), r)
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

    def _route_name(self, target: Target) -> str:
        """The name whose upstreams serve ``target``: its served name when an upstream lists
        it, else (adapters loaded at runtime, not yet rediscovered) its base model's."""
        if self.router.knows(target.served_name) or target.kind != "adapter" or not target.base:
            return target.served_name
        return target.base

    async def _retarget(self, r: _Req) -> Target | None:
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
        self, resp: aiohttp.ClientResponse, r: _Req, send: Any, t_up: float
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
        else:
            r.error_type = "upstream_client_error"
        r.gw_s = (time.perf_counter() - r.t0) - upstream_s
        ctype = resp.headers.get("content-type", "application/json").encode()
        r.response_done = True
        self._record(r)  # journaled before the answer leaves (see _record)
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": [
                    (b"content-type", ctype),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-prai-gateway-ms", f"{r.gw_s * 1000:.3f}".encode()),
                    (b"x-prai-request-id", r.rid.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload, "more_body": False})

    def _filter_body(self, obj: dict[str, Any], ctx: GuardContext) -> bool:
        return filter_answer(self.guard, ctx, obj)

    async def _relay_stream(
        self, resp: aiohttp.ClientResponse, r: _Req, send: Any, strip_usage: bool, t_up: float
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
            tail = sse_error_event(
                error_body(
                    f"{exc.message} (hint: {exc.hint})", type=exc.error_type, code=exc.http_status
                )
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            r.status, r.error_type = 502, "upstream_error"
            err = UpstreamTimeout if isinstance(exc, asyncio.TimeoutError) else UpstreamError
            e = err("the model server stopped in the middle of the answer")
            tail = sse_error_event(
                error_body(f"{e.message} (hint: {e.hint})", type=e.error_type, code=e.http_status)
            )
        _count_relayed(r)
        r.response_done = True
        self._record(r)  # journaled before the last byte: a client that saw the end has a record
        await send({"type": "http.response.body", "body": tail, "more_body": False})

    def _finish(self, r: _Req) -> None:
        """Journal the audit record if not done yet, and update metrics (never raises)."""
        if not r.recorded:
            self._record(r)
        latency = r.latency_s
        m = self.metrics
        model = r.adapter or r.model or ""
        tenant, project = r.tenant or "", r.project or ""
        m.child(m.requests, tenant, project, model, str(r.status)).inc()
        m.child(m.e2e, model).observe(latency)
        if r.ttft_s is not None:
            m.child(m.ttft, model).observe(r.ttft_s)
        if r.gw_s is not None:
            m.overhead.observe(max(r.gw_s, 0.0))
        if r.completion_tokens:
            m.child(m.gen_tokens, tenant, project, model).inc(r.completion_tokens)
        if r.prompt_tokens:
            m.child(m.prompt_tokens, tenant, project, model).inc(r.prompt_tokens)

    def _record(self, r: _Req) -> None:
        """Append the request's audit record to the journal (one ``write`` system call).

        Called just before the last byte of the answer is handed to the server, so a client
        that received a complete answer always has its record, even if the process is
        killed right after.
        """
        r.recorded = True
        r.latency_s = time.perf_counter() - r.t0
        if self.audit is None:
            return
        guard = None
        if r.guard is not None and r.guard.actions:
            guard = json.dumps(
                [
                    {"detector": a.detector, "action": a.action, "count": a.count}
                    for a in r.guard.actions
                ],
                ensure_ascii=False,
            )
        rec = {
            "rid": r.rid,
            "ts_us": r.ts_us,
            "tenant": r.tenant,
            "project": r.project,
            "key_id": r.key_id,
            "model": r.model,
            "adapter": r.adapter,
            "endpoint": r.endpoint,
            "stream": r.stream,
            "status": r.status,
            "error_type": r.error_type,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "ttft_us": int(r.ttft_s * 1e6) if r.ttft_s is not None else None,
            "latency_us": int(r.latency_s * 1e6),
            "gateway_us": int(max(r.gw_s, 0.0) * 1e6) if r.gw_s is not None else None,
            "upstream": r.upstream,
            "client": r.client,
            "guard": guard,
            "prompt": r.prompt,
        }
        try:
            self.audit.write(rec)
        except OSError as exc:
            log.error("audit journal write failed: %s", exc)


def _count_relayed(r: _Req) -> None:
    """Set a stream's token counts from its relay (idempotent).

    The upstream's usage chunk when it arrived, but never fewer completion tokens than
    content events relayed to the client (one event ≈ one token on vLLM): a client that
    leaves mid-stream, or an upstream that breaks off, is charged and audited for what
    was sent.
    """
    relay = r.relay
    if relay is None:
        return
    usage = relay.usage or {}
    reported = usage.get("completion_tokens")
    relayed = relay.content_events
    reported = reported if isinstance(reported, int) and not isinstance(reported, bool) else 0
    if usage or relayed:
        r.completion_tokens = max(reported, relayed)
    prompt = usage.get("prompt_tokens")
    if isinstance(prompt, int) and not isinstance(prompt, bool):
        r.prompt_tokens = prompt
    elif relayed and r.prompt_tokens is None:
        r.prompt_tokens = r.prompt_est


def _duplicate_authorization() -> BadRequest:
    return BadRequest(
        "the request has more than one Authorization header",
        hint="send exactly one header: Authorization: Bearer sk-prai-...",
    )


def _too_deep() -> BadRequest:
    return BadRequest(
        "the request body is nested too deeply",
        hint="send a JSON object with ordinary nesting (messages, content parts)",
    )


# --- small ASGI helpers ------------------------------------------------------------------


async def _send(send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_json(
    send: Any, status: int, obj: Any, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(
        send, status, json.dumps(obj, ensure_ascii=False).encode(), [_JSON, *(headers or [])]
    )


async def _send_error(send: Any, exc: PraiError) -> None:
    message = f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    body = error_body(
        message, type=exc.error_type, param=getattr(exc, "param", None), code=exc.http_status
    )
    await _send_json(send, exc.http_status, body, list(getattr(exc, "headers", None) or []))


__all__ = ["ENDPOINTS", "GatewayApp"]
