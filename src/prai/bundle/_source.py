"""Read a bundle wherever it sits: a directory, one tar, or split tar parts.

Every payload file is opened as a seekable read-only window, so verifying and loading
work the same way for all three kinds and never unpack to a temporary place. A split
bundle is ``NAME.tar.part-0000…`` plus ``NAME.tar.parts.json`` (sizes and SHA-256 of
each part and of the whole tar) and ``NAME.tar.parts.SHA256SUMS``.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from prai.errors import (
    BundleError,
    BundleManifestError,
    BundlePartError,
    BundleSizeMismatch,
    BundleUnsafePath,
)

from .manifest import CONTROL_FILES, MANIFEST_NAME, SIGNATURE_NAME, SUMS_NAME, check_relpath

PARTS_SUFFIX = ".parts.json"


@dataclass(frozen=True)
class Part:
    """One piece of a split tar: file path, size (bytes), expected SHA-256 (hex)."""

    path: Path
    size: int
    sha256: str


class _Window(io.RawIOBase):
    """Read-only, seekable view of ``size`` bytes at ``offset`` across a list of files."""

    def __init__(self, files: list[tuple[Path, int]], offset: int, size: int) -> None:
        self._files = files  # (path, size) in order; their concatenation is the stream
        self._start = offset
        self._size = size
        self._pos = 0
        self._fh: BinaryIO | None = None
        self._fh_index = -1

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, min(self._size, base + pos))
        return self._pos

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(b), self._size - self._pos)
        if want <= 0:
            return 0
        absolute = self._start + self._pos
        start = 0
        for i, (path, size) in enumerate(self._files):
            if absolute < start + size:
                if self._fh_index != i:
                    if self._fh is not None:
                        self._fh.close()
                    self._fh = open(path, "rb", buffering=0)  # noqa: SIM115
                    self._fh_index = i
                assert self._fh is not None
                self._fh.seek(absolute - start)
                n = min(want, start + size - absolute)
                got = self._fh.readinto(memoryview(b)[:n])  # type: ignore[attr-defined]
                if not got:
                    raise BundlePartError(f"{path} ended early (expected {size} bytes)")
                self._pos += got
                return int(got)
            start += size
        return 0

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        super().close()


@dataclass
class Entry:
    """A file as it actually is in the bundle: size (bytes), and where it is."""

    path: str
    size: int
    offset: int = 0  # in the tar stream; 0 for directory bundles
    regular: bool = True


class BundleSource:
    """An opened bundle.

    Attributes:
        location: what the user passed.
        kind: "dir", "tar" or "parts".
        parts: the split parts (empty unless kind == "parts").
        entries: every file actually present (control files included), by relative path.
    """

    def __init__(
        self,
        location: Path,
        kind: str,
        root: Path,
        files: list[tuple[Path, int]],
        parts: list[Part],
        entries: dict[str, Entry],
        tar_sha256: str | None,
    ) -> None:
        self.location = location
        self.kind = kind
        self._root = root
        self._files = files
        self.parts = parts
        self.entries = entries
        self.tar_sha256 = tar_sha256

    def open(self, path: str) -> BinaryIO:
        """Open a payload or control file for reading (seekable).

        Raises:
            FileNotFoundError: not in the bundle.
        """
        e = self.entries.get(path)
        if e is None:
            raise FileNotFoundError(path)
        if self.kind == "dir":
            fd = os.open(self._root / path, os.O_RDONLY | os.O_NOFOLLOW)
            return os.fdopen(fd, "rb", buffering=0)
        return io.BufferedReader(_Window(self._files, e.offset, e.size), buffer_size=1 << 20)

    def read_small(self, path: str, limit: int = 64 << 20) -> bytes | None:
        """Read a control file whole (None when absent)."""
        if path not in self.entries:
            return None
        if self.entries[path].size > limit:
            raise BundleManifestError(f"{path} is larger than {limit} bytes; not a PrAI bundle")
        with self.open(path) as f:
            return f.read()

    @property
    def manifest_bytes(self) -> bytes:
        """The manifest's bytes.

        Raises:
            BundleManifestError: no manifest in the bundle.
        """
        data = self.read_small(MANIFEST_NAME)
        if data is None:
            raise BundleManifestError(
                f"{self.location}: no {MANIFEST_NAME}; this is not a PrAI bundle (or the "
                "manifest was lost in transfer)"
            )
        return data

    @property
    def signature(self) -> bytes | None:
        return self.read_small(SIGNATURE_NAME)

    @property
    def sums(self) -> bytes | None:
        return self.read_small(SUMS_NAME)

    def payload_paths(self) -> list[str]:
        return [p for p in self.entries if p not in CONTROL_FILES]


def _scan_dir(root: Path) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames) + filenames:
            full = base / name
            rel = full.relative_to(root).as_posix()
            st = full.lstat()
            if stat.S_ISDIR(st.st_mode):
                continue
            if stat.S_ISLNK(st.st_mode):
                raise BundleUnsafePath(
                    f"{rel} is a symbolic link to {os.readlink(full)!r}; bundles hold regular "
                    "files only"
                )
            if not stat.S_ISREG(st.st_mode):
                raise BundleUnsafePath(f"{rel} is not a regular file (device, fifo or socket)")
            entries[rel] = Entry(rel, st.st_size)
    return entries


def _scan_tar(fileobj: BinaryIO, where: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    try:
        with tarfile.open(fileobj=fileobj, mode="r:") as tf:
            for m in tf:
                name = m.name[2:] if m.name.startswith("./") else m.name
                if m.isdir():
                    check_relpath(name.rstrip("/"))
                    continue
                check_relpath(name)
                if m.issym() or m.islnk():
                    raise BundleUnsafePath(
                        f"{where}: {name} is a link to {m.linkname!r}; bundles hold regular "
                        "files only"
                    )
                if not m.isreg():
                    raise BundleUnsafePath(f"{where}: {name} is not a regular file")
                if name in entries:
                    raise BundleUnsafePath(f"{where}: {name} appears twice in the tar")
                entries[name] = Entry(name, m.size, m.offset_data)
    except tarfile.TarError as exc:
        if "unexpected end of data" in str(exc):
            raise BundleSizeMismatch(
                f"{where} is truncated: the tar ends inside a file",
                hint="the copy was cut short: copy the tar again and check free space on the media",
            ) from None
        raise BundleError(
            f"{where}: not a readable tar ({exc}); a part may be missing or cut short",
            hint="copy the tar (or every part) again, then run `prai bundle verify`",
        ) from None
    return entries


def _load_parts(index_path: Path) -> tuple[list[Part], str | None, int]:
    try:
        data = json.loads(index_path.read_text(encoding="utf-8"))
        parts = [
            Part(index_path.parent / Path(p["path"]).name, int(p["size"]), str(p["sha256"]))
            for p in data["parts"]
        ]
        total = int(data["size"])
        tar_sha = str(data["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BundlePartError(
            f"{index_path}: unreadable parts index ({exc.__class__.__name__})"
        ) from None
    if not parts or sum(p.size for p in parts) != total:
        raise BundlePartError(f"{index_path}: part sizes do not add up to {total} bytes")
    for p in parts:
        if not p.path.is_file():
            raise BundlePartError(
                f"part {p.path.name} is missing (listed in {index_path.name}); "
                f"copy it next to {index_path.name}"
            )
        actual = p.path.stat().st_size
        if actual != p.size:
            raise BundlePartError(
                f"part {p.path.name} is {actual} bytes, {index_path.name} says {p.size}; "
                "the copy was cut short or changed"
            )
    return parts, tar_sha, total


def open_bundle(path: str | Path) -> BundleSource:
    """Open a bundle directory, a ``.tar``, or split parts (the index, a part, or the tar name).

    Raises:
        BundleError: nothing usable at ``path`` (message says what was looked for).
        BundlePartError: a part is missing or has the wrong size.
        BundleUnsafePath: symlinks, special files, absolute or ``..`` paths.
    """
    p = Path(path)
    if p.is_dir():
        return BundleSource(p, "dir", p, [], [], _scan_dir(p), None)
    index: Path | None = None
    if p.name.endswith(PARTS_SUFFIX):
        index = p
    elif ".part-" in p.name:
        index = p.with_name(p.name.split(".part-")[0] + PARTS_SUFFIX)
    elif not p.exists() and p.with_name(p.name + PARTS_SUFFIX).exists():
        index = p.with_name(p.name + PARTS_SUFFIX)
    if index is not None:
        if not index.is_file():
            raise BundlePartError(f"{index} is missing; it lists the parts and their hashes")
        parts, tar_sha, total = _load_parts(index)
        files = [(pt.path, pt.size) for pt in parts]
        with io.BufferedReader(_Window(files, 0, total)) as stream:
            entries = _scan_tar(stream, str(index))
        return BundleSource(p, "parts", index.parent, files, parts, entries, tar_sha)
    if p.is_file():
        size = p.stat().st_size
        with open(p, "rb") as f:
            entries = _scan_tar(f, str(p))
        return BundleSource(p, "tar", p.parent, [(p, size)], [], entries, None)
    raise BundleError(
        f"{p}: no bundle here (looked for a directory with {MANIFEST_NAME}, a .tar, or "
        f"{p.name}{PARTS_SUFFIX})",
        hint="pass the bundle directory, the .tar, or the .parts.json of a split bundle",
    )
