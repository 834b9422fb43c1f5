"""Assertions of eval items: each checks one answer and says why it failed.

Kinds (one key per assertion in the suite)::

    contains: TEXT            the answer contains TEXT (NFKC-normalised, so 全角/半角 agree)
    not_contains: TEXT        it does not
    regex: PATTERN            Python ``re.search`` matches the raw answer (not normalised);
                              flags: ``{regex: {pattern: P, flags: ims}}``
    equals: TEXT              equal after NFKC and stripping surrounding whitespace
    starts_with: TEXT         begins with TEXT (after NFKC, leading whitespace stripped)
    max_chars: N              at most N characters (Japanese counts per character)
    json_valid: true          the answer is JSON (a ```json fence is allowed)
    json_schema: {...}        the answer is JSON valid against this JSON Schema (jsonschema)
    max_latency_ms: N         the whole request took at most N ms
    guardrail_block: true     the request was refused by a guardrail (error type
                              ``guardrail_violation``, HTTP 400 from the PrAI gateway)
    similar_to: TEXT | {reference: TEXT, min: 0.6}
                              character-bigram cosine similarity with the reference
                              (computed locally, no model; 0..1) is at least ``min``
                              (default 0.5)

``contains``, ``not_contains``, ``regex``, ``equals`` and ``starts_with`` also accept a
list (all must hold; for ``contains_any`` any one).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any

KINDS = ("contains", "contains_any", "not_contains", "regex", "equals", "starts_with", "max_chars",
         "json_valid", "json_schema", "max_latency_ms", "guardrail_block", "similar_to")


@dataclass(frozen=True)
class Assertion:
    """One parsed assertion: ``kind`` (of :data:`KINDS`) and its ``value``; ``options`` extra."""

    kind: str
    value: Any
    options: tuple[tuple[str, Any], ...] = ()

    def opt(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass
class Answer:
    """What the server returned for one item.

    Attributes:
        content: the assistant's text ("" on error).
        latency_ms: request start to full response (ms).
        status: HTTP status (0 when no response).
        error_type: the OpenAI error envelope's ``error.type`` on an error, else None.
        error_message: its message (never contains the prompt).
    """

    content: str
    latency_ms: float
    status: int
    error_type: str | None = None
    error_message: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error_type is None


@dataclass
class Outcome:
    """Result of one assertion: passed or not, and a short reason."""

    kind: str
    expected: Any
    passed: bool
    detail: str


def normalise(text: str) -> str:
    """NFKC (全角英数 -> 半角, compatibility forms) for text comparisons."""
    return unicodedata.normalize("NFKC", text)


def _as_list(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


def parse_assertion(raw: Any) -> Assertion:
    """``{"contains": "x"}`` -> :class:`Assertion`.

    Raises:
        ValueError: not a one-key mapping of a known kind, or a bad value.
    """
    if not isinstance(raw, dict):
        raise ValueError(f"an assertion is a mapping like {{contains: TEXT}}, got {type(raw).__name__}")
    options = {k: v for k, v in raw.items() if k in ("flags", "min")}
    kinds = [k for k in raw if k not in options]
    if len(kinds) != 1 or kinds[0] not in KINDS:
        raise ValueError(f"unknown assertion {sorted(raw)}; kinds: {', '.join(KINDS)}")
    kind, value = kinds[0], raw[kinds[0]]
    if kind in ("max_chars", "max_latency_ms"):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"{kind} needs a positive number")
    elif kind == "regex":
        if isinstance(value, dict):
            options.setdefault("flags", value.get("flags", ""))
            value = value.get("pattern", value.get("regex"))
        if not isinstance(value, str | list) or not value:
            raise ValueError("regex needs a pattern (or a list of patterns)")
        flags = 0
        for f in str(options.get("flags", "")):
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}.get(f, 0)
        try:
            for p in _as_list(value):
                re.compile(p, flags)
        except re.error as exc:
            raise ValueError(f"regex {value!r}: {exc}") from None
        options["flags_value"] = flags
    elif kind == "json_schema":
        from jsonschema import Draft202012Validator, SchemaError

        if not isinstance(value, dict):
            raise ValueError("json_schema needs a JSON Schema mapping")
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"json_schema is not a valid schema: {exc.message}") from None
    elif kind == "similar_to":
        if isinstance(value, dict):
            ref, minimum = value.get("reference"), value.get("min", 0.5)
            if not isinstance(ref, str):
                raise ValueError("similar_to needs `reference: TEXT`")
            value, options["min"] = ref, minimum
        minimum = options.setdefault("min", 0.5)
        if not isinstance(minimum, int | float) or not 0 <= minimum <= 1:
            raise ValueError("similar_to min must be between 0 and 1")
    elif kind in ("json_valid", "guardrail_block"):
        if not isinstance(value, bool):
            raise ValueError(f"{kind} takes true or false")
    elif not isinstance(value, str | list) or value in ("", []):
        raise ValueError(f"{kind} needs text (or a list of texts)")
    return Assertion(kind, value, tuple(sorted(options.items())))


def bigram_similarity(a: str, b: str) -> float:
    """Cosine similarity of character-bigram counts after NFKC, lower-case, no spaces (0..1).

    Works for Japanese without a tokenizer; identical texts give 1.0.
    """
    def grams(s: str) -> Counter[str]:
        s = re.sub(r"\s+", "", normalise(s).lower())
        return Counter(s[i:i + 2] for i in range(len(s) - 1)) if len(s) > 1 else Counter([s])

    ga, gb = grams(a), grams(b)
    dot = sum(ga[k] * gb[k] for k in ga)
    na = math.sqrt(sum(v * v for v in ga.values()))
    nb = math.sqrt(sum(v * v for v in gb.values()))
    return dot / (na * nb) if na and nb else 0.0


def _json_body(text: str) -> Any:
    t = text.strip()
    m = re.match(r"^```(?:json)?\s*\n(.*?)\n?```$", t, re.DOTALL)
    if m:
        t = m.group(1)
    return json.loads(t)


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "…"


def check(a: Assertion, ans: Answer) -> Outcome:
    """Evaluate one assertion against one answer."""
    if a.kind == "guardrail_block":
        blocked = ans.error_type == "guardrail_violation"
        passed = blocked == bool(a.value)
        return Outcome(a.kind, a.value, passed,
                       "blocked by a guardrail" if blocked else f"not blocked (HTTP {ans.status})")
    if a.kind == "max_latency_ms":
        return Outcome(a.kind, a.value, ans.latency_ms <= a.value, f"{ans.latency_ms:.0f} ms")
    if not ans.ok:
        return Outcome(a.kind, a.value, False,
                       f"no answer: HTTP {ans.status} {ans.error_type or ''} {ans.error_message or ''}".strip())
    text = normalise(ans.content)
    if a.kind == "contains":
        missing = [s for s in _as_list(a.value) if normalise(s) not in text]
        return Outcome(a.kind, a.value, not missing, f"missing {missing}" if missing else "found")
    if a.kind == "contains_any":
        hit = [s for s in _as_list(a.value) if normalise(s) in text]
        return Outcome(a.kind, a.value, bool(hit), f"found {hit[0]!r}" if hit else "none found")
    if a.kind == "not_contains":
        hit = [s for s in _as_list(a.value) if normalise(s) in text]
        return Outcome(a.kind, a.value, not hit, f"found {hit}" if hit else "absent")
    if a.kind == "regex":
        flags = a.opt("flags_value", 0)
        bad = [p for p in _as_list(a.value) if not re.search(p, ans.content, flags)]
        return Outcome(a.kind, a.value, not bad, f"no match for {bad}" if bad else "matched")
    if a.kind == "equals":
        ok = text.strip() == normalise(str(a.value)).strip()
        return Outcome(a.kind, a.value, ok, "equal" if ok else f"got {_short(text.strip())!r}")
    if a.kind == "starts_with":
        ok = text.lstrip().startswith(normalise(str(a.value)))
        return Outcome(a.kind, a.value, ok, "yes" if ok else f"starts {_short(text.lstrip(), 20)!r}")
    if a.kind == "max_chars":
        n = len(ans.content)
        return Outcome(a.kind, a.value, n <= a.value, f"{n} characters")
    if a.kind in ("json_valid", "json_schema"):
        try:
            doc = _json_body(ans.content)
        except ValueError as exc:
            return Outcome(a.kind, a.value, a.kind == "json_valid" and not a.value, f"not JSON: {exc}")
        if a.kind == "json_valid":
            return Outcome(a.kind, a.value, bool(a.value), "valid JSON")
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(a.value).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.path) or "(root)"
            return Outcome(a.kind, "schema", False, f"{where}: {e.message}")
        return Outcome(a.kind, "schema", True, "valid")
    if a.kind == "similar_to":
        score = bigram_similarity(ans.content, str(a.value))
        minimum = float(a.opt("min", 0.5))
        return Outcome(a.kind, {"reference": a.value, "min": minimum}, score >= minimum, f"similarity {score:.2f}")
    raise AssertionError(a.kind)  # parse_assertion admits only KINDS
