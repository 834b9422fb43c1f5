"""Server-sent events relay: forward complete events as they arrive, never the whole stream.

Per event (``data: {...}\\n\\n`` as vLLM and OpenAI send them):

- the usage chunk (``choices: []`` with ``usage``) is remembered and, when the gateway
  added ``stream_options.include_usage`` itself, removed;
- the first event carrying generated text marks the time to first token;
- with a guard output filter, every generated text of a delta (``content``/``text``,
  ``reasoning_content``, tool-call ``arguments``: :func:`~prai.gateway.guard_hook.choice_texts`)
  is passed through a filter of its own per choice index and field; when the choice
  finishes, what the filters held back is added to that last event.

Events without any of these needs are forwarded byte for byte (no JSON parse).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from prai.gateway.guard_hook import choice_texts
from prai.guard.hook import OutputFilter

# A non-empty text delta in an event's raw bytes (chat ``"content"`` or completions ``"text"``).
_HAS_TEXT = re.compile(rb'"(?:content|text)"\s*:\s*"[^"]')


class StreamRelay:
    """Incremental SSE processor; feed upstream bytes, send what it returns.

    Args:
        strip_usage: drop the usage-only chunk (the client did not ask for it).
        make_filter: creates a guard output filter per choice, or None for no filtering.
    """

    def __init__(self, *, strip_usage: bool, make_filter: Callable[[], OutputFilter | None] | None) -> None:
        self.strip_usage = strip_usage
        self.make_filter = make_filter
        self.filters: dict[tuple[int, str], OutputFilter | None] = {}
        self.usage: dict[str, Any] | None = None
        self.saw_token = False
        #: events relayed that carried generated text (≈ tokens: vLLM sends one per token)
        self.content_events = 0
        #: the upstream's ``data: [DONE]`` was relayed: the client has the whole answer
        self.saw_done = False
        self._buf = b""

    def feed(self, chunk: bytes) -> bytes:
        """Upstream bytes in; complete, processed events out (possibly ``b""``)."""
        buf = self._buf + chunk if self._buf else chunk
        if b"\r\n" in buf:
            buf = buf.replace(b"\r\n", b"\n")
        if b"\n\n" not in buf:
            self._buf = buf
            return b""
        *events, self._buf = buf.split(b"\n\n")
        out = []
        for ev in events:
            if not ev:
                continue
            done = self._event(ev)
            if done is not None:
                out.append(done)
                out.append(b"\n\n")
        return b"".join(out)

    def finish(self) -> bytes:
        """Whatever is left when the upstream closed (an unterminated last event)."""
        rest, self._buf = self._buf, b""
        if rest.strip():
            done = self._event(rest)
            return done + b"\n\n" if done is not None else b""
        return b""

    def _event(self, ev: bytes) -> bytes | None:
        if not ev.startswith(b"data:"):
            return ev
        payload = ev[5:].strip()
        if payload == b"[DONE]":
            self.saw_done = True
            return ev
        has_usage = b'"usage"' in payload
        if self.make_filter is None and self.saw_token and not has_usage:
            if _HAS_TEXT.search(payload):
                self.content_events += 1
            return ev
        try:
            obj = json.loads(payload)
        except ValueError:
            return ev
        if not isinstance(obj, dict):
            return ev
        changed = False
        if has_usage and isinstance(obj.get("usage"), dict):
            self.usage = obj["usage"]
            if self.strip_usage:
                if not obj.get("choices"):
                    return None
                obj.pop("usage")
                changed = True
        choices = obj.get("choices") or []
        texts = 0
        for c in choices:
            if not isinstance(c, dict):
                continue
            fields = choice_texts(c)
            if any(holder[key] for holder, key, _ in fields):
                texts += 1
                self.saw_token = True
            if self.make_filter is not None:
                changed = self._filter_choice(c, fields) or changed
        self.content_events += texts
        if changed:
            return b"data: " + json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        return ev

    def _filter(self, idx: int, field: str) -> OutputFilter | None:
        key = (idx, field)
        if key not in self.filters:
            assert self.make_filter is not None
            self.filters[key] = self.make_filter()
        return self.filters[key]

    def _filter_choice(self, c: dict[str, Any], fields: list[tuple[dict[str, Any], str, str]]) -> bool:
        """Pass a streamed choice's texts through their filters; True when it changed."""
        idx = int(c.get("index", 0))
        changed = False
        for holder, key, field in fields:
            f = self._filter(idx, field)
            if f is None:
                continue
            text = holder[key]
            new = f.feed(text) if text else ""
            if new != text:
                holder[key] = new
                changed = True
        if c.get("finish_reason") is None:
            return changed
        # the choice ended: release what each of its filters held back
        delta = c.get("delta")
        holder = delta if isinstance(delta, dict) else c  # completions: {"text": …}
        for (i, field), f in list(self.filters.items()):
            if i != idx or f is None:
                continue
            tail = f.finish()
            del self.filters[(i, field)]
            if not tail:
                continue
            changed = True
            if field.startswith("tool_calls."):
                calls = holder.setdefault("tool_calls", [])
                k = int(field.split(".", 1)[1])
                for call in calls:
                    if isinstance(call, dict) and call.get("index", 0) == k:
                        fn = call.setdefault("function", {})
                        fn["arguments"] = (fn.get("arguments") or "") + tail
                        break
                else:
                    calls.append({"index": k, "function": {"arguments": tail}})
            else:
                holder[field] = (holder.get(field) or "") + tail
        return changed


__all__ = ["StreamRelay"]
