"""``prai bundle verify``: every file present, right size and hash, nothing extra.

Order of checks (cheap first, so bad input is refused before long work): open the
bundle (parts index valid, parts present with the right sizes, the tar read strictly:
no links, special files, hidden members or unsafe names), parse the manifest against
its schema, compare the root digest (when given), check the signature (when a key is
given), compare SHA256SUMS with the manifest, compare the file and folder lists
(missing / extra) and sizes, then hash every file on every core; once the images/ files
are intact, check their OCI layout (index.json, every manifest, config and layer it
names listed with its size, nothing unused). A split bundle's parts
are hashed in the same pass (one sequential reader computes each part's SHA-256 and the
whole tar's) and compared with the parts index.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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

from ._hashing import CHUNK_BYTES, NullProgress, ProgressSink, hash_stream, workers
from ._report import FileResult, VerifyReport
from ._source import BundleSource, open_bundle
from .manifest import Manifest, check_sums, parse_manifest, root_digest
from .sign import verify_signature


def read_manifest(path: str | Path) -> Manifest:
    """The parsed manifest of a bundle (directory, tar or split parts), without hashing.

    Raises:
        BundleError and subclasses: no bundle, unreadable or invalid manifest.
    """
    return parse_manifest(open_bundle(path).manifest_bytes)


SMALL_FILE_BYTES = 1 << 20  # read in one piece; larger files are streamed
BATCH_BYTES = 16 << 20  # one hashing task: many small files, or one large file


def _hash_entry(src: BundleSource, path: str, sink: ProgressSink) -> tuple[str, int]:
    if src.entries[path].size <= SMALL_FILE_BYTES:
        data = src.read_bytes(path)
        sink.advance(len(data))
        return hashlib.sha256(data).hexdigest(), len(data)
    with src.open(path) as f:
        return hash_stream(f, sink.advance)


def _batches(results: list[FileResult]) -> list[list[FileResult]]:
    """Group files into tasks of about BATCH_BYTES, so 100,000 small files are not
    100,000 thread-pool round trips."""
    batches: list[list[FileResult]] = []
    current: list[FileResult] = []
    size = 0
    for r in results:
        current.append(r)
        size += r.expected_size or 0
        if size >= BATCH_BYTES or len(current) >= 512:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def _parts_needed(src: BundleSource, paths: set[str] | None) -> list[int]:
    """Indexes of the parts that hold ``paths`` and the control files (all when None)."""
    if paths is None:
        return list(range(len(src.parts)))
    ranges = [
        (e.offset, e.offset + e.size) for p, e in src.entries.items() if p in paths or "/" not in p
    ]
    needed = []
    start = 0
    for i, part in enumerate(src.parts):
        end = start + part.size
        if any(a < end and b > start for a, b in ranges):
            needed.append(i)
        start = end
    return needed


def _hash_parts(
    src: BundleSource, needed: list[int], sink: ProgressSink
) -> tuple[dict[int, str], str | None]:
    """SHA-256 of each needed part; of the whole tar too when every part is needed.

    One sequential reader: each byte is read once and fed to both digests.
    """
    whole = hashlib.sha256() if len(needed) == len(src.parts) else None
    digests: dict[int, str] = {}
    buf = bytearray(CHUNK_BYTES)
    view = memoryview(buf)
    for i in needed:
        h = hashlib.sha256()
        with open(src.parts[i].path, "rb", buffering=0) as f:
            while got := f.readinto(view):
                h.update(view[:got])
                if whole is not None:
                    whole.update(view[:got])
                sink.advance(got)
        digests[i] = h.hexdigest()
    return digests, whole.hexdigest() if whole is not None else None


def _check_parts(
    src: BundleSource, report: VerifyReport, digests: dict[int, str], whole: str | None
) -> None:
    bad: list[PraiError] = []
    for i, part in enumerate(src.parts):
        got = digests.get(i)
        ok: bool | str = "unchecked" if got is None else got == part.sha256
        report.parts.append({"path": part.path.name, "size": part.size, "ok": ok})
        if got is not None and got != part.sha256:
            bad.append(
                BundlePartError(
                    f"part {part.path.name} is corrupted: SHA-256 {got[:16]}… "
                    f"but the parts index says {part.sha256[:16]}…"
                )
            )
    if not bad and whole is not None and whole != src.tar_sha256:
        bad.append(
            BundlePartError(
                f"the joined parts have SHA-256 {whole[:16]}… but the parts index says "
                f"{(src.tar_sha256 or '')[:16]}… for the whole tar; the index was edited"
            )
        )
    report.problems[:0] = bad


def verify_source(
    src: BundleSource,
    *,
    key: str | Path | None = None,
    expected_root: str | None = None,
    progress: ProgressSink | None = None,
    hash_files: bool = True,
    only_paths: set[str] | None = None,
    software_must_fit: bool = False,
) -> VerifyReport:
    """Verify an opened bundle; see :func:`verify_bundle`.

    ``only_paths``: hash only these files (the rest still checked for presence and size)
    and, for split bundles, only the parts that hold them (the whole tar's SHA-256 is
    then not checked).

    ``software_must_fit``: refuse (BundleSoftwareError, exit 9) a wheelhouse that does not
    install on this machine, before any file is hashed; otherwise the reasons are only
    recorded in ``report.software_fit``.
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
    if src.index is not None and src.index.root_digest != report.root_digest:
        raise BundlePartError(
            f"the parts index records root digest {src.index.root_digest}, the manifest inside "
            f"has {report.root_digest}: the index belongs to another bundle"
        )
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
    if manifest.software is not None:  # issue 14: the wheelhouse fits this machine?
        from .wheelhouse import refuse_unfit_software, software_fit_problems

        if software_must_fit:
            refuse_unfit_software(manifest.software)
        report.software_fit = software_fit_problems(manifest.software)

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
    folders = {
        f.path.rsplit("/", i)[0] for f in manifest.files for i in range(1, f.path.count("/") + 1)
    }
    for path in sorted(src.dirs - folders):
        report.files.append(FileResult(path + "/", "?", "?", "extra", None, 0))
        report.problems.append(
            BundleExtraFile(f"folder {path}/ is in the bundle but holds no listed file")
        )
    if only_paths is not None:
        for res in to_hash:
            if res.path not in only_paths:
                res.status = "unchecked"
        to_hash = [r for r in to_hash if r.path in only_paths]
    needed = _parts_needed(src, only_paths) if src.parts else []
    if not hash_files:
        for res in to_hash:
            res.status = "unchecked"
        to_hash = []
        needed = []
    parts_bytes = sum(src.parts[i].size for i in needed)
    sink.start("verifying", sum(r.expected_size or 0 for r in to_hash) + parts_bytes)
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        # the parts pass is one long sequential task beside the per-file hashing
        parts_job = pool.submit(_hash_parts, src, needed, sink) if needed else None
        batches = _batches(to_hash)
        done = pool.map(lambda b: [_hash_entry(src, r.path, sink)[0] for r in b], batches)
        digests = [d for batch in done for d in batch]
        part_digests, whole = parts_job.result() if parts_job else ({}, None)
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
    if src.parts:
        _check_parts(src, report, part_digests, whole)
    # issue 14: the images' OCI layout holds what its index.json names, and nothing else
    images = [r for r in report.files if r.role == "images"]
    if images and all(r.status in ("ok", "in_base") for r in images):
        from .oci_layout import check_bundle_layout

        layout = check_bundle_layout(
            manifest, lambda p: src.read_bytes(p) if p in src.entries else None
        )
        report.problems += layout.problems
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
    try:
        return verify_source(src, key=key, expected_root=expected_root, progress=progress)
    finally:
        src.close()


__all__ = [
    "BundleError",
    "FileResult",
    "VerifyReport",
    "read_manifest",
    "verify_bundle",
    "verify_source",
]
