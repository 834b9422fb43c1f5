"""Path and port options checked before a command starts its work.

Every path option of every command carries one of these typer callbacks, so a missing
file is called missing (not a format error), a relative path that does not exist is
called a path (not a hub id), and an unreadable one is named with the permission fix,
all in one line plus a hint, before anything is read, written or started:

    ca: list[Path] = typer.Option([], "--ca", callback=input_file)

``tests/cli/test_mistakes.py`` walks every command and checks that each path option has
one (:data:`KIND_ATTR` records which), then feeds each missing, unreadable, wrong-kind and
malformed values.

Exit codes: 2 (:class:`~prai.errors.PathNotFound`, usage), 5
(:class:`~prai.errors.PathNotReadable`, :class:`~prai.errors.PortInUse`, environment).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from prai.errors import PathNotFound, PathNotReadable

KIND_ATTR = "prai_path_kind"  # set on each callback: file, dir, any, bundle, output
Callback = Callable[[Any, Any, Any], Any]


def _flag(param: Any) -> str:
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
    return opts[0] if opts else str(getattr(param, "name", "PATH")).upper()


def _where(path: Path) -> str:
    if path.is_absolute():
        return str(path)
    return f"{path} (relative to {Path.cwd()})"


def check_input(flag: str, path: Path, kind: str, hint: str | None = None, *, model_dir: bool = False) -> Path:
    """Refuse a path that is missing, of the wrong kind, or unreadable.

    Args:
        flag: the option as the user typed it (``--ca``, or ``--adapter NAME=``), for the message.
        kind: ``file``, ``dir``, ``any``, or ``bundle`` (any, or ``NAME.tar`` of a split
            bundle whose ``NAME.tar.parts.json`` exists).
        hint: the hint for a missing path (default: the typo hint of PathNotFound).
        model_dir: a model, tokenizer or adapter directory: a missing one shaped like a hub
            repo id (:func:`prai.modelfiles.model_dir.looks_like_remote`) gets the hint that
            nothing is downloaded. The first line still calls it a missing path, as
            ``prai serve`` does for a relative path under an existing folder.

    Returns:
        ``path`` unchanged.

    Raises:
        PathNotFound: it does not exist, or is a file where a directory is needed (or the reverse).
        PathNotReadable: this user cannot read it (or list it, for a directory).
    """
    p = path.expanduser()
    flag = flag if flag.endswith("=") else flag + " "  # `--adapter a=DIR` reads as typed
    try:
        exists = p.exists()
    except PermissionError:  # a folder on the way may not be entered
        raise PathNotReadable(f"{flag}{path}: permission denied (a folder on the way cannot be entered)") from None
    except OSError:
        exists = False
    if not exists and kind == "bundle" and p.with_name(p.name + ".parts.json").is_file():
        return path  # a split bundle named by its tar (prai.bundle opens the parts)
    if not exists:
        if model_dir:
            from prai.modelfiles.model_dir import MISSING_ADAPTER_DIR_HINT, MISSING_DIR_HINT, missing_dir

            message, model_hint = missing_dir(flag, str(path))  # the hub-id hint wins over the command's
            plain = model_hint in (MISSING_DIR_HINT, MISSING_ADAPTER_DIR_HINT)
            raise PathNotFound(message, hint=model_hint if hint is None or not plain else hint)
        what = {"file": "no such file", "dir": "no such directory"}.get(kind, "no such file or directory")
        parent = p.parent
        extra = "" if parent == Path(".") or parent.is_dir() else f"; {parent} does not exist either"
        raise PathNotFound(f"{flag}{_where(path)}: {what}{extra}", hint=hint)
    if kind == "file" and p.is_dir():
        raise PathNotFound(f"{flag}{path}: is a directory, a file is needed")
    if kind == "dir" and not p.is_dir():
        raise PathNotFound(f"{flag}{path}: is a file, a directory is needed")
    need = os.R_OK | (os.X_OK if p.is_dir() else 0)
    if not os.access(p, need, effective_ids=os.access in os.supports_effective_ids):
        raise PathNotReadable(f"{flag}{path}: permission denied (this user cannot read it)")
    return path


def check_output(flag: str, path: Path) -> Path:
    """Refuse an output path whose nearest existing folder is not a writable directory.

    Raises:
        PathNotFound: a file stands where a folder of the path is needed.
        PathNotReadable: the folder it would be written into is not writable.
    """
    p = path.expanduser().absolute()
    try:
        probe = p if p.is_dir() else p.parent
        while not probe.exists():
            probe = probe.parent
    except PermissionError:
        raise PathNotReadable(f"{flag} {path}: permission denied (a folder on the way cannot be entered)") from None
    if not probe.is_dir():
        raise PathNotFound(f"{flag} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        raise PathNotReadable(f"{flag} {path}: permission denied (cannot write into {probe})")
    return path


def _make(kind: str, hint: str | None = None, *, model_dir: bool = False) -> Callback:
    def callback(ctx: Any, param: Any, value: Any) -> Any:
        if value is None or getattr(ctx, "resilient_parsing", False):
            return value
        values = value if isinstance(value, list | tuple) else [value]
        for v in values:
            if v is None:
                continue
            if kind == "output":
                check_output(_flag(param), Path(v))
            else:
                check_input(_flag(param), Path(v), kind, hint, model_dir=model_dir)
        return value

    setattr(callback, KIND_ATTR, kind)
    return callback


def input_file_hint(hint: str) -> Callback:
    """Like :data:`input_file`, with the command's own hint for a missing file."""
    return _make("file", hint)


def input_dir_hint(hint: str) -> Callback:
    """Like :data:`input_dir`, with the command's own hint for a missing directory."""
    return _make("dir", hint)


def input_model_dir_hint(hint: str) -> Callback:
    """Like :data:`input_model_dir`, with the command's own hint for a missing directory."""
    return _make("dir", hint, model_dir=True)


input_file: Callback = _make("file")
input_dir: Callback = _make("dir")
input_model_dir: Callback = _make("dir", model_dir=True)  # a model, tokenizer or adapter directory
input_path: Callback = _make("any")  # a file or a directory
input_bundle: Callback = _make("bundle")  # a bundle directory, .tar, .parts.json, or a split bundle's .tar name


def ensure_port_free(host: str, port: int, flag: str = "--port") -> None:
    """Refuse a port another process listens on (see :func:`prai.engine.process.ensure_port_free`).

    Raises:
        PortInUse: exit 5.
    """
    from prai.engine.process import ensure_port_free as check

    check(host, port, flag)
output_path: Callback = _make("output")


class LogLevel(StrEnum):
    """The values of every ``--log-level`` option (uvicorn's and :mod:`logging`'s names).

    Declared as ``typer.Option(LogLevel.warning, "--log-level", case_sensitive=False)``:
    any case is accepted, another value is a usage error (exit 2) naming the choices.
    """

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


__all__ = [
    "KIND_ATTR",
    "LogLevel",
    "check_input",
    "check_output",
    "ensure_port_free",
    "input_bundle",
    "input_dir",
    "input_dir_hint",
    "input_file",
    "input_file_hint",
    "input_model_dir",
    "input_model_dir_hint",
    "input_path",
    "output_path",
]
