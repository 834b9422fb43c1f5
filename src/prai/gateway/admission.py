"""Admission: everything the gateway decides before it calls an upstream.

Order: authenticate (in-memory key cache) → audit backlog (503 when the journal's bound
is reached) → read the body (413 above ``max_body_bytes``) → parse → project policy (404
unknown model, 403 not allowed, 400 ``max_tokens`` over the project's cap) → resolve an
alias to its version → guard input hook → limits and budgets (429; 503 when the limit
store is unreachable and fails closed).
The result is an :class:`Admitted`: the body to send, the name to route by, and what the
limits charged (given back by :mod:`prai.gateway.accounting`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prai.config.gateway import GatewayConfig, ProjectConfig
from prai.db.routes import Target
from prai.errors import (
    AuditBacklogFull,
    AuthenticationFailed,
    BadRequest,
    BodyTooLarge,
    BudgetExceeded,
    ModelNotAllowed,
    ModelNotFound,
    RateLimited,
    UpstreamUnavailable,
)
from prai.gateway._state import RequestState
from prai.gateway.aliases import AliasCache
from prai.gateway.auth import KeyCache
from prai.gateway.budgets import cost_micro_yen, price_for
from prai.gateway.metrics import GatewayMetrics
from prai.gateway.ratelimit import Charge, Limiter, estimate_tokens, estimate_tokens_upper
from prai.gateway.upstreams import Router
from prai.guard.hook import Guard, GuardContext, NoGuard


@dataclass
class Admitted:
    """An admitted request.

    Attributes:
        body: the request body to send upstream (re-serialised when changed).
        route_model: the model name whose upstreams serve the request.
        strip_usage: the gateway added ``stream_options.include_usage``: drop the usage
            chunk before the client sees it.
        charge: what limits and budgets charged (None when none apply).
    """

    body: bytes
    route_model: str
    strip_usage: bool
    charge: Charge | None


def duplicate_authorization() -> BadRequest:
    return BadRequest(
        "the request has more than one Authorization header",
        hint="send exactly one header: Authorization: Bearer sk-prai-...",
    )


def too_deep() -> BadRequest:
    return BadRequest(
        "the request body is nested too deeply",
        hint="send a JSON object with ordinary nesting (messages, content parts)",
    )


def _min_limit(a: int | None, b: int | None) -> int | None:
    vals = [v for v in (a, b) if v]
    return min(vals) if vals else None


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else 0


def max_completion_tokens(endpoint: str, data: dict[str, Any]) -> int:
    """The most completion tokens a request may generate: ``max_tokens`` (or
    ``max_completion_tokens``) × ``n`` × prompts; 0 when unbounded or an embedding."""
    if endpoint == "embeddings":
        return 0
    per = _int(data.get("max_tokens")) or _int(data.get("max_completion_tokens"))
    return per * (_int(data.get("n")) or 1) * _prompt_count(endpoint, data)


def _parts(endpoint: str, data: dict[str, Any]) -> int:
    if endpoint == "chat.completions":
        msgs = data.get("messages")
        return len(msgs) if isinstance(msgs, list) else 1
    return _prompt_count(endpoint, data)


def prompt_text(endpoint: str, data: dict[str, Any]) -> str:
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


def route_name(router: Router, target: Target) -> str:
    """The name whose upstreams serve ``target``: its served name when an upstream lists
    it, else (adapters loaded at runtime, not yet rediscovered) its base model's."""
    if router.knows(target.served_name) or target.kind != "adapter" or not target.base:
        return target.served_name
    return target.base


class AdmissionStage:
    """Authentication, policy, guard input and limits for one gateway process.

    ``limiter`` is set by the app at start-up (it needs the running event loop).
    """

    def __init__(
        self,
        cfg: GatewayConfig,
        *,
        keys: KeyCache,
        aliases: AliasCache,
        router: Router,
        guard: Guard,
        metrics: GatewayMetrics,
        audit_full: Callable[[], bool] | None = None,
    ) -> None:
        self.cfg = cfg
        self.audit_full = audit_full
        self.keys = keys
        self.aliases = aliases
        self.router = router
        self.guard = guard
        self.metrics = metrics
        self.limiter: Limiter | None = None
        self.projects: dict[tuple[str, str], ProjectConfig] = {
            (t.name, p.name): p for t in cfg.tenants for p in t.projects
        }
        self.allowed: dict[tuple[str, str], frozenset[str] | None] = {
            k: None if "*" in p.models else frozenset(p.models) for k, p in self.projects.items()
        }

    async def admit(self, scope: dict[str, Any], receive: Any, r: RequestState) -> Admitted:
        """Run admission for one request; fills ``r`` (tenant, project, key, model, stream).

        Raises:
            PraiError: the answer to send instead (401, 400, 403, 404, 413, 429, 503).
        """
        endpoint = r.endpoint
        authorization = content_length = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                if authorization is not None:
                    raise duplicate_authorization()
                authorization = v
            elif k == b"content-length":
                content_length = v
        key = await self.keys.check(authorization)
        r.tenant, r.project, r.key_id = key.tenant, key.project, key.id
        if self.audit_full is not None and self.audit_full():
            raise AuditBacklogFull("the audit log cannot be written and its journal is full")
        body = await self._read_body(receive, content_length)
        try:
            data = json.loads(body)
        except ValueError:
            raise BadRequest("the request body is not valid JSON") from None
        except RecursionError:
            raise too_deep() from None
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
            route_model = route_name(self.router, target)
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
        charge = None
        limiter = self.limiter
        if limiter is not None and limiter.applies(key.tenant, key.project, key.id):
            plan = limiter.plan(key.tenant, key.project, key.id)
            reserve_t = reserve_y = 0
            if plan.token_rates or plan.budgets:
                text = prompt_text(endpoint, data)
                r.prompt_est = estimate_tokens(text)
                if plan.budgets:
                    prompt_hi = estimate_tokens_upper(text, _parts(endpoint, data))
                    completion_hi = max_completion_tokens(endpoint, data)
                    reserve_t = prompt_hi + completion_hi
                    if self.cfg.prices:
                        price = price_for(self.cfg.prices, r.adapter, r.model, r.alias)
                        reserve_y = cost_micro_yen(price, prompt_hi, completion_hi, 0.0)
            try:
                charge = await limiter.admit(
                    tenant=key.tenant,
                    project=key.project,
                    key_id=key.id,
                    rid=r.rid,
                    prompt_tokens=r.prompt_est or 0,
                    reserve_tokens=reserve_t,
                    reserve_micro_yen=reserve_y,
                )
            except BudgetExceeded as exc:
                period = getattr(exc, "period", "")
                self.metrics.child(self.metrics.budget_exceeded, key.tenant, key.project, period).inc()
                raise
            except RateLimited:
                self.metrics.child(self.metrics.rejections, key.tenant, key.project).inc()
                raise
        return Admitted(body=body, route_model=route_model, strip_usage=strip_usage, charge=charge)

    def _apply_request_limits(
        self, endpoint: str, data: dict[str, Any], proj: ProjectConfig, r: RequestState
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


__all__ = ["AdmissionStage", "Admitted", "duplicate_authorization", "prompt_text", "route_name", "too_deep"]
