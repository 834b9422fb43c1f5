"""Read a bundle wherever it sits: a directory, one tar, or split tar parts.

Every payload file is opened as a seekable read-only window, so verifying and loading
work the same way for all three kinds and never unpack to a temporary place. A split
bundle is ``NAME.tar.part-0000…`` plus ``NAME.tar.parts.json`` (sizes and SHA-256 of
each part and of the whole tar) and ``NAME.tar.parts.SHA256SUMS``.

Tars are read by the strict reader in :mod:`prai.bundle._tar` (what PrAI reads is what
GNU tar, bsdtar and Python's tarfile read); parts indexes are validated by
:class:`prai.bundle.manifest.PartsIndex` before any part is opened.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import itertools
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from prai.errors import BundleError, BundleManifestError, BundlePartError, BundleUnsafePath, UsageError

from ._tar import BLOCK, looks_like_tar, scan_tar
from .manifest import (
    CONTROL_FILES,
    MANIFEST_NAME,
    SIGNATURE_NAME,
    SUMS_NAME,
    PartsIndex,
    check_relpath,
    parse_parts_index,
    render_part_sums,
    show,
)

PARTS_SUFFIX = ".parts.json"
PARTS_SUMS_SUFFIX = ".parts.SHA256SUMS"
MAX_INDEX_READ = (16 << 20) + 1  # one byte more than the parts index may hold


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
        dirs: every folder present (in a tar: its folder members), relative paths.
        index: the parsed parts index (kind == "parts" only).
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
        dirs: set[str] | None = None,
        index: PartsIndex | None = None,
    ) -> None:
        self.location = location
        self.kind = kind
        self._root = root
        self._files = files
        self.parts = parts
        self.entries = entries
        self.tar_sha256 = tar_sha256
        self.dirs = dirs or set()
        self.index = index
        self._starts = list(itertools.accumulate((size for _, size in files), initial=0))
        self._fds: dict[int, int] = {}
        self._fd_lock = threading.Lock()

    def _fd(self, i: int) -> int:
        with self._fd_lock:
            fd = self._fds.get(i)
            if fd is None:
                fd = self._fds[i] = os.open(self._files[i][0], os.O_RDONLY)
            return fd

    def close(self) -> None:
        """Close the file descriptors :meth:`read_bytes` keeps open (idempotent)."""
        with self._fd_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def read_bytes(self, path: str) -> bytes:
        """A whole (small) file's bytes in one read per underlying file (``pread``; safe
        from several threads). For files of a few MiB at most.

        Raises:
            FileNotFoundError: not in the bundle. BundlePartError: a part is shorter than
            its index says.
        """
        e = self.entries.get(path)
        if e is None:
            raise FileNotFoundError(path)
        if self.kind == "dir":
            with self.open(path) as f:
                return f.read()
        out = []
        i = max(0, bisect.bisect_right(self._starts, e.offset) - 1)
        pos, end = e.offset, e.offset + e.size
        while pos < end:
            file_path, size = self._files[i]
            start = self._starts[i]
            n = min(end, start + size) - pos
            data = os.pread(self._fd(i), n, pos - start)
            if len(data) != n:
                raise BundlePartError(f"{file_path} ended early (expected {size} bytes)")
            out.append(data)
            pos += n
            i += 1
        return b"".join(out)

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
                "manifest was lost in transfer)",
                hint=(
                    f"{self.location} is not a bundle directory (a bundle holds {MANIFEST_NAME} "
                    "at its top): create one with `prai bundle create --model DIR -o OUT`, or "
                    "pass the folder a bundle was copied into"
                    if self.kind == "dir" else None
                ),
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


def _scan_dir(root: Path) -> tuple[dict[str, Entry], set[str]]:
    entries: dict[str, Entry] = {}
    dirs: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        for name in list(dirnames) + filenames:
            full = base / name
            rel = full.relative_to(root).as_posix()
            check_relpath(rel)  # names that are not UTF-8 arrive as lone surrogates: refused
            st = full.lstat()
            if stat.S_ISDIR(st.st_mode):
                dirs.add(rel)
                continue
            if stat.S_ISLNK(st.st_mode):
                raise BundleUnsafePath(
                    f"{show(rel)} is a symbolic link to {show(os.readlink(full))}; bundles "
                    "hold regular files only"
                )
            if not stat.S_ISREG(st.st_mode):
                raise BundleUnsafePath(
                    f"{show(rel)} is not a regular file (device, fifo or socket)"
                )
            entries[rel] = Entry(rel, st.st_size)
    return entries, dirs


def _scan_tar(fileobj: BinaryIO, total: int, where: str) -> tuple[dict[str, Entry], set[str]]:
    entries: dict[str, Entry] = {}
    dirs: set[str] = set()
    for m in scan_tar(fileobj, total, where):
        if m.is_dir:
            dirs.add(m.name)
        else:
            entries[m.name] = Entry(m.name, m.size, m.offset)
    return entries, dirs


def _load_parts(index_path: Path) -> tuple[list[Part], PartsIndex]:
    try:
        with open(index_path, "rb") as f:
            data = f.read(MAX_INDEX_READ)
    except OSError as exc:
        raise BundlePartError(
            f"{index_path}: unreadable parts index ({exc.strerror or exc})"
        ) from None
    index = parse_parts_index(data, index_path.name)
    want_tar = index_path.name[: -len(PARTS_SUFFIX)]
    if index.tar != want_tar:
        raise BundlePartError(
            f"{index_path.name} describes {show(index.tar)}, not {show(want_tar)}; the parts "
            "index belongs to another bundle or was renamed"
        )
    sums_path = index_path.with_name(want_tar + PARTS_SUMS_SUFFIX)
    try:
        with open(sums_path, "rb") as f:
            sums = f.read(len(render_part_sums(index)) + 1)
    except FileNotFoundError:
        raise BundlePartError(
            f"{sums_path.name} is missing; copy it next to {index_path.name}"
        ) from None
    if sums != render_part_sums(index):
        raise BundlePartError(
            f"{sums_path.name} does not match {index_path.name}; one of them was edited"
        )
    parts = [Part(index_path.parent / p.path, p.size, p.sha256) for p in index.parts]
    for p in parts:
        try:
            st = p.path.lstat()
        except FileNotFoundError:
            raise BundlePartError(
                f"part {p.path.name} is missing (listed in {index_path.name}); "
                f"copy it next to {index_path.name}"
            ) from None
        if not stat.S_ISREG(st.st_mode):
            raise BundleUnsafePath(f"part {p.path.name} is not a regular file")
        if st.st_size != p.size:
            raise BundlePartError(
                f"part {p.path.name} is {st.st_size} bytes, {index_path.name} says {p.size}; "
                "the copy was cut short or changed"
            )
    return parts, index


def _raise_damaged_part(parts: list[Part]) -> None:
    """Raise BundlePartError for the first part whose SHA-256 differs from the index."""
    from ._hashing import hash_file

    for part in parts:
        digest, _ = hash_file(part.path)
        if digest != part.sha256:
            raise BundlePartError(
                f"part {part.path.name} is corrupted: SHA-256 {digest[:16]}… but the parts "
                f"index says {part.sha256[:16]}…, so the tar cannot be read"
            ) from None


_NOT_A_BUNDLE_HINT = (
    "pass the bundle directory, the .tar, or the .parts.json of a split bundle (made by "
    "`prai bundle create`)"
)


def open_bundle(path: str | Path) -> BundleSource:
    """Open a bundle directory, a ``.tar``, or split parts (the index, a part, or the tar name).

    Raises:
        BundleError: nothing usable at ``path`` (message says what was looked for).
        UsageError: ``path`` is a file that is not a tar at all (no ustar header first).
        BundlePartError: a part is missing or has the wrong size.
        BundleUnsafePath: symlinks, special files, absolute or ``..`` paths.
    """
    p = Path(path)
    if p.is_dir():
        entries, dirs = _scan_dir(p)
        return BundleSource(p, "dir", p, [], [], entries, None, dirs)
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
        parts, parsed = _load_parts(index)
        files = [(pt.path, pt.size) for pt in parts]
        try:
            with io.BufferedReader(_Window(files, 0, parsed.size)) as stream:
                entries, dirs = _scan_tar(stream, parsed.size, str(index))
        except BundleError:
            # most often a part damaged in transfer: name it rather than the tar's symptom
            _raise_damaged_part(parts)
            raise
        return BundleSource(
            p, "parts", index.parent, files, parts, entries, parsed.sha256, dirs, parsed
        )
    if p.is_file():
        size = p.stat().st_size
        with open(p, "rb") as f:
            if not looks_like_tar(f.read(BLOCK)):
                raise UsageError(
                    f"{p}: not a PrAI bundle (not a tar archive or bundle directory)",
                    hint=_NOT_A_BUNDLE_HINT,
                )
            entries, dirs = _scan_tar(f, size, str(p))
        return BundleSource(p, "tar", p.parent, [(p, size)], [], entries, None, dirs)
    raise BundleError(
        f"{p}: no bundle here (looked for a directory with {MANIFEST_NAME}, a .tar, or "
        f"{p.name}{PARTS_SUFFIX})",
        hint=_NOT_A_BUNDLE_HINT,
    )
