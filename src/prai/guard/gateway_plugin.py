"""The gateway's guard: :class:`prai.gateway.guard_hook.Guard` implemented with PrAI's
detectors and policies.

The gateway imports this module and calls :func:`create_guard` with the kitchen config
(``prai.gateway.guard_hook.load_guard``). Per request:

* ``check_input`` scans every text of the request (chat ``messages[].content`` strings and
  text parts, completions ``prompt``, embeddings ``input``) with the project's policy in
  the ``input`` direction: masked texts replace the originals, a ``block`` raises
  :class:`~prai.errors.GuardrailViolation` (HTTP 400, ``type: guardrail_violation``, the
  detector ids in the message, never the matched text);
* ``output_filter`` returns one :class:`~prai.guard.stream.TextFilter` per choice (the
  ``output`` direction, with the configured hold-back window).

Every decision is added to ``ctx.actions`` as (detector, action, count).
"""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from typing import Any

from prai.errors import ConfigError
from prai.gateway.guard_hook import GuardAction, GuardContext, OutputFilter
from prai.guard.policy import Guardrails, Policy, violation
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
    """(container, key, text) for every text of a request body."""
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
    """The guard the gateway calls (see :mod:`prai.gateway.guard_hook`).

    Args:
        guardrails: the kitchen's compiled policies.
    """

    def __init__(self, guardrails: Guardrails) -> None:
        self.guardrails = guardrails

    def _policy(self, ctx: GuardContext) -> Policy:
        return self.guardrails.policy(ctx.policy)

    def _check(self, ctx: GuardContext, body: dict[str, Any]) -> dict[str, Any] | None:
        policy = self._policy(ctx)
        items = _texts(ctx.endpoint, body)
        counts: Counter[tuple[str, str]] = Counter()
        blocked: list[str] = []
        masked: list[str] = []
        replacements: list[tuple[int, str]] = []
        for i, (_, _, text) in enumerate(items):
            out = policy.apply(text, "input")
            counts.update(out.counts)
            blocked.extend(d for d in out.blocked if d not in blocked)
            masked.append(out.text)
            if out.text != text:
                replacements.append((i, out.text))
        _record(ctx, counts)
        if blocked:
            raise violation(blocked, "input", policy.name)
        ctx.masked_prompt = "\n".join(masked)
        if not replacements:
            return None
        new_body = copy.deepcopy(body)
        new_items = _texts(ctx.endpoint, new_body)
        for i, text in replacements:
            container, key, _ = new_items[i]
            container[key] = text
        return new_body

    async def check_input(self, ctx: GuardContext, body: dict[str, Any]) -> dict[str, Any] | None:
        """Scan the request; a replacement body when something was masked, else None.

        Raises:
            GuardrailViolation: a finding's action is ``block`` (HTTP 400).
        """
        size = sum(len(t) for _, _, t in _texts(ctx.endpoint, body))
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


__all__ = ["THREAD_SCAN_CHARS", "GatewayGuard", "create_guard"]
