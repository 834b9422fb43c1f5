"""The gateway's guardrail hook: the interface ``prai.guard`` implements (issue 5).

Pipeline positions (see :mod:`prai.gateway.app`):

1. after authentication and before routing/limits: ``Guard.check_input(ctx, body)`` may
   return a changed request body (masked PII) or raise a :class:`~prai.errors.PraiError`
   to block (its ``http_status``/``error_type`` become the OpenAI error answer);
2. non-stream answers: :func:`filter_answer` — ``OutputFilter.filter_text`` on every
   generated text of every choice (:func:`choice_texts`: ``content``/``text``,
   ``reasoning_content``/``reasoning``, and each string inside
   ``tool_calls[].function.arguments``, which stays valid JSON);
3. streams: ``OutputFilter.feed`` on each delta of each of those texts (one filter per
   choice and field; tool-call arguments filtered as JSON text), ``finish`` when that
   choice ends (it may hold back text until a detector can decide, then release it).

Every step appends what it did to ``ctx.actions`` (:class:`GuardAction`: detector, action,
count); the audit record stores them. ``ctx.masked_prompt`` is stored as the audit's prompt
when the project has ``audit_prompts: masked``.

The gateway finds an implementation by importing ``prai.guard.gateway_plugin`` and
calling its ``create_guard(kitchen: KitchenConfig) -> Guard``. Without it the gateway uses
:class:`NoGuard`, and refuses to start when a project names a ``guard_policy`` (fail closed).
Projects without ``guard_policy`` never call the guard (the fast path).
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from prai.errors import ConfigError


@dataclass
class GuardAction:
    """One guard decision for the audit log: e.g. ``("pii.phone_jp", "mask", 2)``."""

    detector: str
    action: str
    count: int = 1


@dataclass
class GuardContext:
    """What the guard knows about the request; it appends to ``actions``.

    Attributes:
        policy: the project's ``guard_policy`` name.
        endpoint: ``chat.completions``, ``completions`` or ``embeddings``.
    """

    policy: str
    tenant: str
    project: str
    key_id: str
    model: str
    endpoint: str
    actions: list[GuardAction] = field(default_factory=list)
    masked_prompt: str | None = None


@runtime_checkable
class OutputFilter(Protocol):
    """Filters the generated text of one choice."""

    def filter_text(self, text: str) -> str:
        """The whole text of a non-stream choice → the text to return."""
        ...

    def feed(self, delta: str) -> str:
        """A streamed delta → the text to emit now (may be shorter: held back)."""
        ...

    def finish(self) -> str:
        """The choice ended: the held-back text to emit (filtered)."""
        ...


@runtime_checkable
class Guard(Protocol):
    """A guardrail implementation."""

    async def check_input(self, ctx: GuardContext, body: dict[str, Any]) -> dict[str, Any] | None:
        """Inspect the request body; return a replacement body, or None to keep it.

        Raises:
            PraiError: to block the request (answered in the OpenAI envelope).
        """
        ...

    def output_filter(self, ctx: GuardContext) -> OutputFilter | None:
        """A new filter for one choice of this request's answer, or None for no filtering."""
        ...


class NoGuard:
    """The default: passes everything through unchanged."""

    async def check_input(self, ctx: GuardContext, body: dict[str, Any]) -> dict[str, Any] | None:
        return None

    def output_filter(self, ctx: GuardContext) -> OutputFilter | None:
        return None


#: Generated-text keys of a chat message or delta, besides ``tool_calls`` (vLLM writes
#: a reasoning model's thinking to ``reasoning_content``; newer servers to ``reasoning``).
MESSAGE_TEXT_KEYS = ("content", "reasoning_content", "reasoning")


def choice_texts(choice: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """Every generated text of a choice (non-stream ``message`` or stream ``delta``).

    Returns:
        (holder, key, field) triples: ``holder[key]`` is a str; ``field`` names the text
        within the choice (``content``, ``reasoning_content``, ``tool_calls.0`` for the
        arguments of the tool call with index 0, ``text`` for completions).
    """
    out: list[tuple[dict[str, Any], str, str]] = []
    holder = choice.get("message")
    if not isinstance(holder, dict):
        holder = choice.get("delta")
    if isinstance(holder, dict):
        for key in MESSAGE_TEXT_KEYS:
            if isinstance(holder.get(key), str):
                out.append((holder, key, key))
        calls = holder.get("tool_calls")
        for k, call in enumerate(calls if isinstance(calls, list) else ()):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str):
                idx = call.get("index", k)
                out.append((fn, "arguments", f"tool_calls.{idx}"))
    elif isinstance(choice.get("text"), str):
        out.append((choice, "text", "text"))
    return out


def filter_json_text(f: OutputFilter, text: str) -> str:
    """Tool-call arguments through a filter: when ``text`` is JSON, every string in it
    (keys too) is filtered and the result re-encoded, so masked arguments stay valid JSON;
    otherwise the raw text is filtered."""
    try:
        value = json.loads(text)
    except ValueError:
        return f.filter_text(text)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return f.filter_text(v) if v else v
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {walk(k): walk(x) for k, x in v.items()}
        return v

    new = walk(value)
    return text if new == value else json.dumps(new, ensure_ascii=False)


def filter_answer(guard: Guard, ctx: GuardContext, obj: dict[str, Any]) -> bool:
    """Filter a non-stream answer in place (every choice, every generated text).

    Returns:
        True when something changed (the body must be re-encoded).
    Raises:
        PraiError: a filter blocks the answer (GuardrailViolation, HTTP 400).
    """
    changed = False
    for c in obj.get("choices") or []:
        if not isinstance(c, dict):
            continue
        for holder, key, _field in choice_texts(c):
            text = holder[key]
            if not text:
                continue
            f = guard.output_filter(ctx)
            if f is None:
                continue
            new = filter_json_text(f, text) if key == "arguments" else f.filter_text(text)
            if new != text:
                holder[key] = new
                changed = True
    return changed


def load_guard(kitchen: Any, policies_in_use: set[str]) -> Guard:
    """The guard implementation for this kitchen.

    Raises:
        ConfigError: a project names a ``guard_policy`` but no guard is installed.
    """
    try:
        plugin = importlib.import_module("prai.guard.gateway_plugin")
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("prai.guard"):
            raise
        if policies_in_use:
            raise ConfigError(
                f"gateway.tenants: projects use guard_policy {sorted(policies_in_use)} "
                "but the guardrails module (prai.guard) is not available",
                hint="install PrAI with guardrails, or remove guard_policy from the projects",
            ) from None
        return NoGuard()
    guard: Guard = plugin.create_guard(kitchen)
    return guard


__all__ = [
    "MESSAGE_TEXT_KEYS",
    "Guard",
    "GuardAction",
    "GuardContext",
    "NoGuard",
    "OutputFilter",
    "choice_texts",
    "filter_answer",
    "filter_json_text",
    "load_guard",
]
