"""The gateway's guard: :class:`prai.guard.hook.Guard` implemented with PrAI's
detectors and policies.

The gateway imports this module and calls :func:`create_guard` with the kitchen config
(``prai.gateway.guard_hook.load_guard``). Per request:

* ``check_input`` refuses token-ID prompts and ``prompt_embeds``
  (:class:`~prai.errors.GuardTokenPrompt`: they cannot be read without the tokenizer),
  then scans every string of the request body — message contents and parts, names,
  tool descriptions and schemas, tool-call arguments, ``stop``, ``response_format``,
  ``guided_*``, ``prompt``, ``input``, dict keys — except the values of
  :data:`STRUCTURAL_KEYS`, ``tool_choice`` enum values and base64 data URLs (media),
  with the project's policy in the ``input`` direction: masked texts replace the
  originals, a ``block`` raises
  :class:`~prai.errors.GuardrailViolation` (HTTP 400, ``type: guardrail_violation``, the
  detector ids in the message, never the matched text);
* ``output_filter`` returns one :class:`~prai.guard.stream.TextFilter` per choice (the
  ``output`` direction, with the configured hold-back window).

Every decision is added to ``ctx.actions`` as (detector, action, count).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from prai.errors import ConfigError, GuardTokenPrompt
from prai.guard.hook import GuardAction, GuardContext, OutputFilter
from prai.guard.policy import Guardrails, Outcome, Policy, violation
from prai.guard.stream import TextFilter

#: Request texts above this many characters are scanned in a worker thread (the event
#: loop keeps serving other requests meanwhile).
THREAD_SCAN_CHARS = 64 * 1024


def _record(ctx: GuardContext, counts: Counter[tuple[str, str]]) -> None:
    for (det, act), n in sorted(counts.items()):
        for a in ctx.actions:
            if a.detector == det and a.action == act:
                a.count += n
                break
        else:
            ctx.actions.append(GuardAction(det, act, n))


def _texts(endpoint: str, body: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """(container, key, text) for the prompt texts of a request body (the audit's prompt)."""
    out: list[tuple[Any, Any, str]] = []
    if endpoint.startswith("chat"):
        for msg in body.get("messages") or []:
            if not isinstance(msg, dict):
                continue
            content = msg.get("content")
            if isinstance(content, str):
                out.append((msg, "content", content))
            elif isinstance(content, list):
                for part in content:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        out.append((part, "text", part["text"]))
        return out
    key = "input" if endpoint.startswith("embedding") else "prompt"
    value = body.get(key)
    if isinstance(value, str):
        out.append((body, key, value))
    elif isinstance(value, list):
        out.extend((value, i, v) for i, v in enumerate(value) if isinstance(v, str))
    return out


#: Keys whose string values are protocol structure, not text the model reads as prose:
#: never scanned (``logit_bias`` maps token IDs to numbers: skipped whole).
STRUCTURAL_KEYS = frozenset(
    {"model", "role", "type", "id", "tool_call_id", "object", "encoding_format", "logit_bias"}
)
#: ``tool_choice`` string values (the rest of a ``tool_choice`` object is scanned).
_TOOL_CHOICE_ENUM = frozenset({"auto", "none", "required"})
#: Clean leaves (no finding) up to this many characters are cached per policy: tool
#: schemas and field names repeat from request to request.
_CACHE_CHARS = 256
_CACHE_SIZE = 4096


def _is_media(text: str) -> bool:
    """A base64 data URL (image/audio bytes, not text the guard can read)."""
    return text.startswith("data:") and ";base64," in text[:128]


def _is_token_ids(value: Any) -> bool:
    """A token-ID prompt: an int, a list of ints, or a list holding lists of ints."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, list):
        return any(
            (isinstance(v, int) and not isinstance(v, bool))
            or (isinstance(v, list) and any(isinstance(x, int) for x in v))
            for v in value
        )
    return False


def _refuse_token_prompts(body: dict[str, Any]) -> None:
    """Raise when the body carries model input the guard cannot read as text.

    Raises:
        GuardTokenPrompt: ``prompt``/``input`` holds token IDs, or ``prompt_embeds`` is set.
    """
    for key in ("prompt", "input"):
        if _is_token_ids(body.get(key)):
            raise GuardTokenPrompt(
                f"{key}: token-ID prompts cannot be checked by the guardrails; send text"
            )
    if body.get("prompt_embeds") is not None:
        raise GuardTokenPrompt(
            "prompt_embeds: embedding prompts cannot be checked by the guardrails; send text"
        )


class _Walk:
    """Applies a policy to every string leaf (and dict key) of a JSON body.

    ``rebuild`` returns the body with masked strings replaced (a new object where
    anything changed, the same object otherwise); block decisions and counts are
    collected in ``blocked``/``counts``; ``chars`` counts the scanned characters.
    """

    def __init__(self, policy: Policy, cache: dict[str, Outcome]) -> None:
        self.policy = policy
        self.cache = cache
        self.counts: Counter[tuple[str, str]] = Counter()
        self.blocked: list[str] = []

    def text(self, text: str) -> str:
        if not text or _is_media(text):
            return text
        out = self.cache.get(text) if len(text) <= _CACHE_CHARS else None
        if out is None:
            out = self.policy.apply(text, "input")
            if len(text) <= _CACHE_CHARS and not out.findings:  # clean texts only: no
                if len(self.cache) >= _CACHE_SIZE:  # personal data is kept in memory
                    self.cache.clear()
                self.cache[text] = out
        if out.counts:
            self.counts.update(out.counts)
            self.blocked.extend(d for d in out.blocked if d not in self.blocked)
        return out.text

    def rebuild(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            items = [self.rebuild(v) for v in value]
            changed = any(a is not b for a, b in zip(items, value, strict=True))
            return items if changed else value
        if isinstance(value, dict):
            new: dict[Any, Any] = {}
            changed = False
            for k, v in value.items():
                nk = self.text(k) if isinstance(k, str) else k
                keep = k in STRUCTURAL_KEYS and (isinstance(v, str) or k == "logit_bias")
                if not keep and k == "tool_choice" and isinstance(v, str):
                    keep = v in _TOOL_CHOICE_ENUM
                nv = v if keep else self.rebuild(v)
                changed = changed or nk is not k or nv is not v
                new[nk] = nv
            return new if changed else value
        return value


def _size(value: Any) -> int:
    """Characters of every string in ``value`` (to decide on a worker thread)."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list):
        return sum(_size(v) for v in value)
    if isinstance(value, dict):
        return sum(len(k) + _size(v) for k, v in value.items() if isinstance(k, str))
    return 0


class _ChoiceFilter:
    """One choice's filter; reports its counts to the request's audit actions."""

    def __init__(self, inner: TextFilter, ctx: GuardContext) -> None:
        self.inner = inner
        self.ctx = ctx

    def _sync(self) -> None:
        if self.inner.counts:
            _record(self.ctx, self.inner.counts)
            self.inner.counts.clear()

    def filter_text(self, text: str) -> str:
        try:
            return self.inner.filter_text(text)
        finally:
            self._sync()

    def feed(self, delta: str) -> str:
        try:
            return self.inner.feed(delta)
        finally:
            self._sync()

    def finish(self) -> str:
        try:
            return self.inner.finish()
        finally:
            self._sync()


class GatewayGuard:
    """The guard the gateway calls (see :mod:`prai.guard.hook`).

    Args:
        guardrails: the kitchen's compiled policies.
    """

    def __init__(self, guardrails: Guardrails) -> None:
        self.guardrails = guardrails
        # policy name → {short text: outcome}; texts repeat across requests (tool schemas)
        self._cache: dict[str, dict[str, Outcome]] = {}

    def _policy(self, ctx: GuardContext) -> Policy:
        return self.guardrails.policy(ctx.policy)

    def _check(self, ctx: GuardContext, body: dict[str, Any]) -> dict[str, Any] | None:
        policy = self._policy(ctx)
        _refuse_token_prompts(body)
        walk = _Walk(policy, self._cache.setdefault(policy.name, {}))
        new_body = walk.rebuild(body)
        _record(ctx, walk.counts)
        if walk.blocked:
            raise violation(walk.blocked, "input", policy.name)
        ctx.masked_prompt = "\n".join(t for _, _, t in _texts(ctx.endpoint, new_body))
        if new_body is body:
            return None
        result: dict[str, Any] = new_body
        return result

    async def check_input(self, ctx: GuardContext, body: dict[str, Any]) -> dict[str, Any] | None:
        """Scan the request; a replacement body when something was masked, else None.

        Raises:
            GuardrailViolation: a finding's action is ``block`` (HTTP 400).
            GuardTokenPrompt: the prompt is token IDs or ``prompt_embeds`` (HTTP 400).
        """
        size = _size(body)
        if size > THREAD_SCAN_CHARS:
            return await asyncio.to_thread(self._check, ctx, body)
        return self._check(ctx, body)

    def output_filter(self, ctx: GuardContext) -> OutputFilter | None:
        """A filter for one choice of the answer (hold-back window from ``guard:``)."""
        policy = self._policy(ctx)
        inner = TextFilter(
            policy,
            "output",
            holdback_chars=self.guardrails.holdback_chars(policy),
            max_hold_chars=self.guardrails.config.stream_max_hold_chars,
        )
        return _ChoiceFilter(inner, ctx)


def create_guard(kitchen: Any) -> GatewayGuard:
    """The gateway's guard for this kitchen (called by ``load_guard``).

    Raises:
        ConfigError: a project names a ``guard_policy`` that is neither built in nor in
            ``guard.policies``, or a policy's deny regex does not compile.
    """
    guardrails = Guardrails(getattr(kitchen, "guard", None))
    gateway = getattr(kitchen, "gateway", None)
    for tenant in getattr(gateway, "tenants", None) or []:
        for project in tenant.projects:
            if project.guard_policy:
                try:
                    guardrails.policy(project.guard_policy)
                except ConfigError as exc:
                    raise ConfigError(
                        f"gateway.tenants[{tenant.name}].projects[{project.name}].guard_policy: "
                        f"{exc.message}",
                        hint=exc.hint,
                    ) from None
    return GatewayGuard(guardrails)


__all__ = ["STRUCTURAL_KEYS", "THREAD_SCAN_CHARS", "GatewayGuard", "create_guard"]
