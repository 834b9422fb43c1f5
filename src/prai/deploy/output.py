"""Deterministic YAML, atomic writing of a render directory, and diffs against an old one.

A render directory holds only files PrAI wrote; ``.prai-render.json`` lists them with
their SHA-256. Writing goes to a temporary sibling directory that is renamed into place,
so a failed render leaves the old directory untouched and nothing is written outside it
(the temporary sibling is removed on every path).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from prai.errors import RenderOutputError

MARKER = ".prai-render.json"
_TOP_ORDER = ("apiVersion", "kind", "metadata")


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings as literal blocks (PEM, JSON, YAML stay readable)."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data:
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def to_yaml(obj: dict[str, Any]) -> str:
    """One document: apiVersion, kind, metadata first, then the rest in insertion order."""
    ordered = {k: obj[k] for k in _TOP_ORDER if k in obj}
    ordered.update({k: v for k, v in obj.items() if k not in ordered})
    text: str = yaml.dump(ordered, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                          default_flow_style=False, width=100)
    return text


def sha256_text(text: str) -> str:
    """Hex SHA-256 of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _safe_rel(rel: str) -> PurePosixPath:
    p = PurePosixPath(rel)
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise RenderOutputError(f"refusing to write {rel!r}: outside the output directory")
    return p


def _existing_files(root: Path) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out[p.relative_to(root).as_posix()] = p.read_text(encoding="utf-8", errors="replace")
    return out


def _check_replaceable(out: Path) -> None:
    if not out.exists():
        return
    if not out.is_dir() or out.is_symlink():
        raise RenderOutputError(f"{out} exists and is not a directory")
    entries = list(out.iterdir())
    if not entries:
        return
    marker = out / MARKER
    if not marker.is_file():
        raise RenderOutputError(f"{out} is not empty and was not written by `prai render` "
                                f"(no {MARKER})")
    try:
        listed = set(json.loads(marker.read_text(encoding="utf-8"))["files"])
    except (ValueError, KeyError, TypeError):
        raise RenderOutputError(f"{out / MARKER} is damaged") from None
    extra = sorted(set(_existing_files(out)) - listed - {MARKER})
    if extra:
        raise RenderOutputError(
            f"{out} holds files an earlier render did not write: {', '.join(extra[:5])}",
            hint="move them out of the render directory (e.g. secrets belong elsewhere), or "
            "render into a new directory",
        )


def write_atomic(files: dict[str, str], out_dir: Path) -> Path:
    """Write ``files`` (relative POSIX path -> text) as the whole content of ``out_dir``.

    Returns:
        The resolved output directory.

    Raises:
        RenderOutputError: out_dir is a file, or holds files not written by a render, or
            cannot be written (permissions, disk full).
    """
    out = Path(out_dir).absolute()
    _check_replaceable(out)
    for rel in files:
        _safe_rel(rel)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise RenderOutputError(f"{out.parent}: cannot create ({exc.strerror})") from None
    old: Path | None = None
    try:
        for rel, text in sorted(files.items()):
            p = tmp / _safe_rel(rel)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rmdir(old)
            os.rename(out, old)
        os.rename(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and old.exists() and not out.exists():
            os.rename(old, out)
        raise RenderOutputError(f"{out}: cannot write ({exc.strerror})") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


@dataclass
class RenderDiff:
    """Differences between a render (new) and a directory (old)."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    patch: str = ""

    @property
    def empty(self) -> bool:
        """True when nothing would change."""
        return not (self.added or self.removed or self.changed)


def diff_against(files: dict[str, str], old_dir: Path) -> RenderDiff:
    """Unified diff of ``files`` against ``old_dir`` (the marker file is ignored).

    Raises:
        RenderOutputError: old_dir is not a directory.
    """
    if not old_dir.is_dir():
        raise RenderOutputError(f"{old_dir}: no such directory to compare with",
                                hint="pass --diff the directory of an earlier `prai render`")
    old = {k: v for k, v in _existing_files(old_dir).items() if k != MARKER}
    new = {k: v for k, v in files.items() if k != MARKER}
    d = RenderDiff(
        added=sorted(set(new) - set(old)),
        removed=sorted(set(old) - set(new)),
        changed=sorted(k for k in set(new) & set(old) if new[k] != old[k]),
    )
    chunks: list[str] = []
    for k in sorted(set(new) | set(old)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        chunks.extend(difflib.unified_diff(
            (a or "").splitlines(keepends=True), (b or "").splitlines(keepends=True),
            fromfile=f"a/{k}" if a is not None else "/dev/null",
            tofile=f"b/{k}" if b is not None else "/dev/null",
        ))
    d.patch = "".join(c if c.endswith("\n") else c + "\n" for c in chunks)
    return d


__all__ = ["MARKER", "RenderDiff", "diff_against", "sha256_text", "to_yaml", "write_atomic"]
