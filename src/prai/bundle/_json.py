"""Bounded JSON for bundle control files (the manifest, the parts index).

Python's ``json`` module is safe on well-formed input but not bounded: a document nested
100,000 deep raises ``RecursionError``, an integer literal of 4,301 digits ``ValueError``
(CPython's int/str conversion limit), ``Infinity``/``NaN`` are accepted, duplicate keys
silently keep the last value (other JSON readers keep the first), and ``"\\ud800"``
yields a string that cannot be encoded. :func:`load_json` turns every one of these into
one refusal with a clear reason, before any schema sees the data.
"""

from __future__ import annotations

import json
import math
from typing import Any

from prai.errors import BundleError

MAX_DEPTH = 16  # arrays/objects; the deepest PrAI document today has 4 levels
MAX_NUMBER_CHARS = 32  # longest number literal (a 64-bit integer has 20 characters)


class _Refused(ValueError):
    """Raised inside the json hooks; carries the reason."""


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"an integer literal of {len(text)} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number literal of {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text[:20]} is out of range")
    return value


def _parse_constant(text: str) -> Any:
    raise _Refused(f"{text} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {_show(key)} appears twice in one object")
            seen.add(key)
    return obj


def _show(text: str, limit: int = 60) -> str:
    """A string safe to print on one line: repr() escapes controls and lone surrogates."""
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _check_str(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(f"the string {_show(text)} holds a lone surrogate") from None


def _check_tree(value: Any, max_depth: int) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _Refused(f"nested deeper than {max_depth} levels")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(key, str):
                _check_str(key)
            if isinstance(child, str):
                _check_str(child)
            elif isinstance(child, dict | list):
                stack.append((child, depth + 1))


def load_json(
    data: bytes,
    source: str,
    error: type[BundleError],
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse ``data`` as UTF-8 JSON within bounds.

    Args:
        data: the document's bytes.
        source: the file's name, for messages.
        error: the BundleError subclass to raise (its exit code is the command's).
        max_bytes: largest accepted document (bytes).
        max_depth: deepest nesting of arrays and objects (the top level is 1).

    Returns:
        The parsed value (dicts, lists, str, int, float, bool, None).

    Raises:
        ``error``: larger than ``max_bytes``, not UTF-8, not JSON, nested deeper than
        ``max_depth``, a number literal longer than 32 characters or out of float range,
        ``NaN``/``Infinity``, a duplicate key, or a lone surrogate in a string.
    """
    if len(data) > max_bytes:
        raise error(f"{source} is {len(data)} bytes, more than the {max_bytes} bytes allowed")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{source}: not valid JSON (not UTF-8 at byte {exc.start})") from None
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_pairs,
        )
        if isinstance(value, dict | list):
            _check_tree(value, max_depth)
    except _Refused as exc:
        raise error(f"{source}: not valid JSON for PrAI ({exc})") from None
    except RecursionError:
        raise error(f"{source}: not valid JSON for PrAI (nested too deeply)") from None
    except json.JSONDecodeError as exc:
        raise error(
            f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return value
