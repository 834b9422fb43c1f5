"""Streaming SHA-256 with constant memory, parallel across files.

hashlib releases the GIL while it hashes a buffer larger than 2047 bytes, so a thread
pool hashes several files on several cores at once; one file is always hashed
sequentially (SHA-256 has no parallel mode). Memory per worker is one 1 MiB buffer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK_BYTES = 1 << 20  # 1 MiB read size: large enough for hashlib, small for memory


class ProgressSink(Protocol):
    """Receives progress for long work (the CLI draws a rich bar with bytes/s and ETA)."""

    def start(self, description: str, total_bytes: int) -> None:
        """A new phase of ``total_bytes`` bytes begins."""

    def advance(self, n_bytes: int) -> None:
        """``n_bytes`` more bytes were processed (called from worker threads)."""


class NullProgress:
    """A sink that ignores everything."""

    def start(self, description: str, total_bytes: int) -> None:
        return None

    def advance(self, n_bytes: int) -> None:
        return None


def workers() -> int:
    """Threads for parallel hashing: every core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def hash_stream(
    stream: BinaryIO, on_bytes: Callable[[int], None] | None = None, limit: int | None = None
) -> tuple[str, int]:
    """SHA-256 of a byte stream read to EOF (or ``limit`` bytes).

    Returns:
        (hex digest, bytes read).
    """
    h = hashlib.sha256()
    n = 0
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    while True:
        want = CHUNK_BYTES if limit is None else min(CHUNK_BYTES, limit - n)
        if want <= 0:
            break
        got = stream.readinto(view[:want])  # type: ignore[attr-defined]
        if not got:
            break
        h.update(view[:got])
        n += got
        if on_bytes is not None:
            on_bytes(got)
    return h.hexdigest(), n


def hash_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> tuple[str, int]:
    """SHA-256 (hex) and size (bytes) of one file, streamed in 1 MiB chunks."""
    with open(path, "rb", buffering=0) as f:
        return hash_stream(f, on_bytes)


def hash_files(
    paths: Iterable[Path], progress: ProgressSink | None = None, max_workers: int | None = None
) -> dict[Path, tuple[str, int]]:
    """Hash many files on every core.

    Returns:
        path -> (hex SHA-256, size in bytes). OSErrors propagate (the caller names the file).
    """
    items = list(paths)
    sink = progress or NullProgress()
    with ThreadPoolExecutor(max_workers=max_workers or workers()) as pool:
        results = list(pool.map(lambda p: hash_file(p, sink.advance), items))
    return dict(zip(items, results, strict=True))


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of a small in-memory object (manifests, indexes)."""
    return hashlib.sha256(data).hexdigest()
