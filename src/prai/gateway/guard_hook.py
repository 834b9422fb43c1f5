"""How the gateway gets its guard: :func:`prai.guard.gateway_plugin.create_guard`, imported
directly. The interface (:class:`Guard`, :class:`GuardContext`, ...) lives in
:mod:`prai.guard.hook` and is re-exported here for the gateway's modules. The gateway's
output path: :func:`filter_answer` runs the guard's output filter over every generated text
of every choice (:func:`choice_texts`: ``content``/``text``, ``reasoning_content``/``reasoning``
and each string inside ``tool_calls[].function.arguments``, which stays valid JSON).
"""

from __future__ import annotations

import json
from typing import Any

from prai.guard.gateway_plugin import create_guard
from prai.guard.hook import Guard, GuardAction, GuardContext, NoGuard, OutputFilter

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


def load_guard(kitchen: Any) -> Guard:
    """The guard for this kitchen (PrAI's detectors and policies).

    Raises:
        ConfigError: a project names a ``guard_policy`` that is not defined, or a policy's
            deny regex does not compile.
    """
    guard: Guard = create_guard(kitchen)
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
