"""Shared pieces of the kitchen.yaml schema: strict base model, YAML loading, errors."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from prai.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


def _expand_env(value: Any, env: Mapping[str, str], path: str) -> Any:
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in env:
                raise ConfigError(
                    f"{path}: environment variable ${{{name}}} is not set",
                    hint=f"export {name}=... before running, or remove the reference",
                )
            return env[name]

        return _ENV_REF.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, env, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, env, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _yaml_kind(value: Any) -> str:
    """What a YAML value is, in a user's words (for "must be a mapping, not …")."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def format_validation_error(exc: ValidationError, source: str) -> str:
    """One line per invalid field: ``source: a.b[0].c: message`` (never ``str(exc)``)."""
    lines = []
    for err in exc.errors():
        loc = ""
        for part in err["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = err["msg"]
        if err["type"] in ("value_error", "assertion_error"):  # our validators' own words
            msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against examples/kitchen.yaml)"
        elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
            msg = f"must be a mapping (key: value), not {_yaml_kind(err.get('input'))}"
        lines.append(f"{source}: {loc or '(top level)'}: {msg}")
    return "\n".join(lines)


def load_yaml_model(
    path: str | Path,
    model: type[M],
    *,
    env: Mapping[str, str] | None = None,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> M:
    """Read a YAML file into ``model``.

    ``prepare`` may complete the data (``${ENV}`` already expanded) before validation,
    e.g. ``prai render --image-map`` filling ``cluster.images``.

    Raises:
        ConfigError: file missing or unreadable, YAML syntax error, unset ``${ENV}``
            reference, or invalid fields (every one listed with its dotted path).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file", hint="pass the path of your kitchen.yaml") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text (invalid byte at offset {exc.start}): not a kitchen.yaml?",
                          hint="pass the path of your kitchen.yaml (YAML, saved as UTF-8)") from None
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)  # e.g. "mapping values are not allowed here"
        raise ConfigError(
            f"{p}: invalid YAML{where}" + (f": {problem}" if problem else ""),
            hint="fix the YAML there (indent with spaces, a space after every ':', quote values "
            "that contain ': ' or start with '*', '&', '!', '{' or '[') and run the command again",
        ) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections")
    data = _expand_env(data, os.environ if env is None else env, "")
    if prepare is not None:
        data = prepare(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, str(p))) from None

