"""``prai bundle verify``: every file present, right size and hash, nothing extra.

Order of checks (cheap first, so bad input is refused before long work): open the
bundle (parts present with the right sizes, no links or special files), parse the
manifest, compare the root digest (when given), check the signature (when a key is
given), compare SHA256SUMS with the manifest, compare the file list (missing / extra)
and sizes, then hash every file on every core. A split bundle whose files fail is
also checked part by part, to name the damaged part.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from prai.errors import (
    BundleDigestMismatch,
    BundleError,
    BundleExtraFile,
    BundleManifestError,
    BundleMissingFile,
    BundlePartError,
    BundleSizeMismatch,
    PraiError,
)

from ._hashing import NullProgress, ProgressSink, hash_stream, workers
from ._source import BundleSource, open_bundle
from .manifest import Manifest, check_sums, parse_manifest, root_digest
from .sign import verify_signature

Status = Literal[
    "ok", "missing", "extra", "corrupted", "truncated", "size_mismatch", "unchecked", "in_base"
]


@dataclass
class FileResult:
    """One file's verdict. Sizes in bytes, digests hex."""

    path: str
    role: str
    name: str
    status: Status
    expected_size: int | None = None
    actual_size: int | None = None
    expected_sha256: str | None = None
    actual_sha256: str | None = None


@dataclass
class VerifyReport:
    """Result of :func:`verify_bundle`.

    Attributes:
        ok: True only when every check passed.
        signature: "absent", "present (not checked: no --key)", or "valid (<key type>)".
        problems: the errors found, most specific first; ``exit_code`` is the first's.
    """

    location: str
    kind: str
    root_digest: str | None = None
    signature: str = "absent"
    total_bytes: int = 0
    files: list[FileResult] = field(default_factory=list)
    parts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[PraiError] = field(default_factory=list)
    manifest: Manifest | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return self.problems[0].exit_code if self.problems else 0

    def raise_for_problems(self) -> None:
        """Raise the first problem, its message extended by a count of the others."""
        if not self.problems:
            return
        first = self.problems[0]
        if len(self.problems) > 1:
            extra = "\n".join(str(p) for p in self.problems[1:6])
            more = f"\n(+{len(self.problems) - 6} more)" if len(self.problems) > 6 else ""
            first.message = f"{first.message}\nalso:\n{extra}{more}"
        raise first

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` (problems as {type, exit_code, message, hint})."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "location": self.location,
            "kind": self.kind,
            "root_digest": self.root_digest,
            "signature": self.signature,
            "total_bytes": self.total_bytes,
            "files": [asdict(f) for f in self.files],
            "parts": self.parts,
            "problems": [
                {
                    "type": type(p).__name__,
                    "exit_code": p.exit_code,
                    "message": p.message,
                    "hint": p.hint,
                }
                for p in self.problems
            ],
        }


def read_manifest(path: str | Path) -> Manifest:
    """The parsed manifest of a bundle (directory, tar or split parts), without hashing.

    Raises:
        BundleError and subclasses: no bundle, unreadable or invalid manifest.
    """
    return parse_manifest(open_bundle(path).manifest_bytes)


def _hash_entry(src: BundleSource, path: str, sink: ProgressSink) -> tuple[str, int]:
    with src.open(path) as f:
        return hash_stream(f, sink.advance)


def _check_parts(src: BundleSource, report: VerifyReport, sink: ProgressSink) -> None:
    def one(i: int) -> tuple[str, int]:
        with open(src.parts[i].path, "rb", buffering=0) as f:
            return hash_stream(f, sink.advance)

    sink.start("checking parts", sum(p.size for p in src.parts))
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        results = list(pool.map(one, range(len(src.parts))))
    for part, (digest, _size) in zip(src.parts, results, strict=True):
        ok = digest == part.sha256
        report.parts.append({"path": part.path.name, "size": part.size, "ok": ok})
        if not ok:
            report.problems.insert(
                0,
                BundlePartError(
                    f"part {part.path.name} is corrupted: SHA-256 {digest[:16]}… "
                    f"but the parts index says {part.sha256[:16]}…"
                ),
            )


def verify_source(
    src: BundleSource,
    *,
    key: str | Path | None = None,
    expected_root: str | None = None,
    progress: ProgressSink | None = None,
    hash_files: bool = True,
    only_paths: set[str] | None = None,
) -> VerifyReport:
    """Verify an opened bundle; see :func:`verify_bundle`.

    ``only_paths``: hash only these files (the rest still checked for presence and size).
    """
    sink = progress or NullProgress()
    report = VerifyReport(location=str(src.location), kind=src.kind)
    mbytes = src.manifest_bytes
    report.root_digest = root_digest(mbytes)
    if expected_root is not None:
        want = expected_root if expected_root.startswith("sha256:") else "sha256:" + expected_root
        if want.lower() != report.root_digest:
            raise BundleManifestError(
                f"root digest is {report.root_digest}, expected {want}: the manifest is not the "
                "one that was created"
            )
    manifest = parse_manifest(mbytes)
    report.manifest = manifest
    report.total_bytes = manifest.total_bytes
    sig = src.signature
    if key is not None:
        report.signature = f"valid ({verify_signature(mbytes, sig, key)})"
    elif sig is not None:
        report.signature = "present (not checked: no --key)"
    sums = src.sums
    if sums is None:
        raise BundleManifestError("SHA256SUMS is missing; it is part of every PrAI bundle")
    check_sums(manifest, sums)

    actual = {p: src.entries[p] for p in src.payload_paths()}
    to_hash: list[FileResult] = []
    in_base = set(manifest.delta.in_base) if manifest.delta else set()  # issue 14: deltas
    for f in manifest.files:
        res = FileResult(f.path, f.role, f.name, "ok", f.size, None, f.sha256)
        report.files.append(res)
        if f.path in in_base:  # not carried: the destination holds it (checked at load)
            res.status = "in_base"
            continue
        e = actual.get(f.path)
        if e is None:
            res.status = "missing"
            report.problems.append(
                BundleMissingFile(f"{f.path} is missing ({f.role} {f.name!r}, {f.size} bytes)")
            )
            continue
        res.actual_size = e.size
        if e.size < f.size:
            res.status = "truncated"
            report.problems.append(
                BundleSizeMismatch(f"{f.path} is truncated: {e.size} of {f.size} bytes")
            )
        elif e.size > f.size:
            res.status = "size_mismatch"
            report.problems.append(
                BundleSizeMismatch(f"{f.path} is {e.size} bytes, the manifest says {f.size}")
            )
        else:
            to_hash.append(res)
    listed = manifest.by_path()
    for path in sorted(actual):
        if path not in listed:
            report.files.append(FileResult(path, "?", "?", "extra", None, actual[path].size))
            report.problems.append(
                BundleExtraFile(f"{path} is in the bundle but not in the manifest")
            )
    if only_paths is not None:
        for res in to_hash:
            if res.path not in only_paths:
                res.status = "unchecked"
        to_hash = [r for r in to_hash if r.path in only_paths]
    if not hash_files:
        for res in to_hash:
            res.status = "unchecked"
    else:
        sink.start("verifying", sum(r.expected_size or 0 for r in to_hash))
        with ThreadPoolExecutor(max_workers=workers()) as pool:
            digests = list(pool.map(lambda r: _hash_entry(src, r.path, sink)[0], to_hash))
        for res, digest in zip(to_hash, digests, strict=True):
            res.actual_sha256 = digest
            if digest != res.expected_sha256:
                res.status = "corrupted"
                report.problems.append(
                    BundleDigestMismatch(
                        f"{res.path} is corrupted: SHA-256 {digest[:16]}… but the manifest says "
                        f"{(res.expected_sha256 or '')[:16]}…"
                    )
                )
    if src.parts and report.problems:
        _check_parts(src, report, sink)
    elif src.parts:
        report.parts = [{"path": p.path.name, "size": p.size, "ok": "size"} for p in src.parts]
    # most specific first: parts, then missing/extra, sizes, digests (stable within a kind)
    order = [
        BundlePartError,
        BundleMissingFile,
        BundleExtraFile,
        BundleSizeMismatch,
        BundleDigestMismatch,
    ]
    report.problems.sort(
        key=lambda e: next((i for i, c in enumerate(order) if isinstance(e, c)), len(order))
    )
    return report


def verify_bundle(
    path: str | Path,
    *,
    key: str | Path | None = None,
    expected_root: str | None = None,
    progress: ProgressSink | None = None,
) -> VerifyReport:
    """Verify a bundle (directory, tar, or split parts) completely.

    Args:
        path: the bundle.
        key: PEM public key; when given, a valid signature is required.
        expected_root: the root digest carried out of band (``sha256:…``); must match.
        progress: receives bytes hashed (for a bar with bytes/s and ETA).

    Returns:
        A report with one result per file. File-level problems (missing, extra,
        truncated, corrupted, damaged part) are collected in ``report.problems``.

    Raises:
        BundleError subclasses for problems that make per-file checks meaningless: no
        manifest, manifest/SHA256SUMS mismatch or root-digest mismatch (14), bad or missing
        signature with a key (15), missing or wrong-size part (16), unsafe paths (17).
    """
    from .destination import is_destination, verify_destination  # issue 14: load destinations

    if is_destination(Path(path)):
        return verify_destination(path, key=key, expected_root=expected_root, progress=progress)
    src = open_bundle(path)
    return verify_source(src, key=key, expected_root=expected_root, progress=progress)


__all__ = [
    "BundleError",
    "FileResult",
    "VerifyReport",
    "read_manifest",
    "verify_bundle",
    "verify_source",
]
