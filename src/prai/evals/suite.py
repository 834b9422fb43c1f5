"""Eval suites: question sets carried in as files (YAML or JSONL), validated strictly.

YAML::

    name: demo-ja-en
    models: [prai-demo, kansai]        # optional; `prai eval --model` overrides
    defaults: {max_tokens: 64, temperature: 0}
    items:
      - id: greet-ja
        prompt: こんにちは              # or `messages:` (OpenAI chat messages)
        system: 丁寧に答えてください     # optional
        models: [prai-demo]             # optional: only these models
        weight: 2                       # default 1
        assert:
          - contains: プライベートAIキッチン
          - regex: "^こんにちは"

JSONL: one item object per line (same fields); the suite is named after the file.
Assertion kinds: see :data:`prai.evals.assertions.KINDS` and docs/bench.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prai.errors import EvalSuiteError
from prai.evals.assertions import Assertion, parse_assertion


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Defaults(_Strict):
    """Request settings for every item (an item may override them)."""

    max_tokens: int = Field(128, gt=0)
    temperature: float = Field(0.0, ge=0)
    seed: int | None = 0
    timeout_s: float = Field(120.0, gt=0)


class Item(_Strict):
    """One question and its assertions."""

    id: str = Field(min_length=1)
    prompt: str | None = None
    system: str | None = None
    messages: list[dict[str, Any]] | None = None
    models: list[str] | None = None
    weight: float = Field(1.0, gt=0)
    max_tokens: int | None = Field(None, gt=0)
    temperature: float | None = Field(None, ge=0)
    asserts: list[dict[str, Any]] = Field(default_factory=list, alias="assert")
    tags: list[str] = Field(default_factory=list)

    @field_validator("messages")
    @classmethod
    def _messages(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if v is not None and not all(isinstance(m, dict) and "role" in m and "content" in m for m in v):
            raise ValueError("each message needs 'role' and 'content'")
        return v

    def chat_messages(self) -> list[dict[str, Any]]:
        """The OpenAI chat ``messages`` for this item."""
        if self.messages is not None:
            return self.messages
        out: list[dict[str, Any]] = []
        if self.system:
            out.append({"role": "system", "content": self.system})
        out.append({"role": "user", "content": self.prompt or ""})
        return out


class Suite(_Strict):
    """A whole suite; ``assertions`` holds each item's parsed assertions (by item id)."""

    name: str = "suite"
    description: str | None = None
    models: list[str] = Field(default_factory=list)
    defaults: Defaults = Field(default_factory=Defaults)  # type: ignore[arg-type]
    items: list[Item]
    assertions: dict[str, list[Assertion]] = Field(default_factory=dict, exclude=True)


def _fmt_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for e in exc.errors()[:8]:
        loc = ".".join(str(p) for p in e["loc"])
        lines.append(f"{source}: {loc}: {e['msg']}")
    return "\n".join(lines)


def parse_suite(data: Any, source: str) -> Suite:
    """Validate a suite mapping (from YAML or JSONL) and parse every assertion.

    Raises:
        EvalSuiteError: naming the file, item and field.
    """
    if isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, dict):
        raise EvalSuiteError(f"{source}: a suite is a mapping with `items:` (or JSONL, one item per line)")
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        raise EvalSuiteError(_fmt_errors(exc, source)) from None
    if not suite.items:
        raise EvalSuiteError(f"{source}: the suite has no items")
    seen: set[str] = set()
    for i, item in enumerate(suite.items):
        if item.id in seen:
            raise EvalSuiteError(f"{source}: items[{i}]: id {item.id!r} is used twice")
        seen.add(item.id)
        if (item.prompt is None) == (item.messages is None):
            raise EvalSuiteError(f"{source}: item {item.id!r}: give exactly one of `prompt` or `messages`")
        if not item.asserts:
            raise EvalSuiteError(f"{source}: item {item.id!r}: no assertions (`assert:` list)")
        parsed = []
        for j, raw in enumerate(item.asserts):
            try:
                parsed.append(parse_assertion(raw))
            except ValueError as exc:
                raise EvalSuiteError(f"{source}: item {item.id!r}: assert[{j}]: {exc}") from None
        suite.assertions[item.id] = parsed
    return suite


def load_suite(path: Path) -> Suite:
    """Read a suite from ``.yaml``/``.yml`` or ``.jsonl``/``.json``.

    Raises:
        EvalSuiteError: missing file, bad YAML/JSON (with the line), invalid items.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalSuiteError(f"{path}: no such suite file", hint="pass a .yaml or .jsonl suite") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalSuiteError(f"{path}: cannot read as UTF-8 ({type(exc).__name__})") from None
    if path.suffix.lower() == ".json":
        try:
            whole = json.loads(text)
        except ValueError:
            whole = None
        if isinstance(whole, dict):
            whole.setdefault("name", path.stem)
            return parse_suite(whole, str(path))
    if path.suffix.lower() in (".jsonl", ".json"):
        items = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise EvalSuiteError(f"{path}:{n}: not JSON ({exc.msg})") from None
        if len(items) == 1 and isinstance(items[0], dict) and "items" in items[0]:
            return parse_suite(items[0], str(path))
        return parse_suite({"name": path.stem, "items": items}, str(path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise EvalSuiteError(f"{path}{where}: not valid YAML") from None
    if isinstance(data, dict):
        data.setdefault("name", path.stem)
    return parse_suite(data, str(path))
