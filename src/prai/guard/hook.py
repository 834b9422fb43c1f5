"""The guard's interface as the gateway calls it (issue 5).

Pipeline positions (see :mod:`prai.gateway.admission` and :mod:`prai.gateway.relay`):

1. after authentication and before routing/limits: ``Guard.check_input(ctx, body)`` may
   return a changed request body (masked PII) or raise a :class:`~prai.errors.PraiError`
   to block (its ``http_status``/``error_type`` become the OpenAI error answer);
2. non-stream answers: ``OutputFilter.filter_text`` on every choice's text;
3. streams: ``OutputFilter.feed`` on each text delta of a choice, ``finish`` when that
   choice ends (it may hold back text until a detector can decide, then release it).

Every step appends what it did to ``ctx.actions`` (:class:`GuardAction`: detector, action,
count); the audit record stores them. ``ctx.masked_prompt`` is stored as the audit's prompt
when the project has ``audit_prompts: masked``.

The types live in the guard package so that the gateway imports the guard directly
(``prai.gateway`` → ``prai.guard``, never back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


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


__all__ = ["Guard", "GuardAction", "GuardContext", "NoGuard", "OutputFilter"]
