"""``prai bundle verify DEST``: check a load destination against the manifest it received.

A destination directory (what ``prai bundle load`` wrote) holds no ``prai-bundle.json``
but an import receipt with the exact manifest text. Verification compares the receipt's
root digest with ``--root-digest`` (when given), checks the signature the receipt kept
(with ``--key``), then checks every file the manifest lists (only those loaded, after
``--only``): present, same size, same SHA-256; files inside the loaded units (``model/``,
``adapters/NAME/``…) that the manifest does not list are reported as extra. PrAI's own
``.prai-*`` files are not payload. ``manifest_path`` checks against another manifest
(e.g. the full new manifest of a delta bundle) instead.
"""

from __future__ import annotations

import base64
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prai.errors import (
    BundleDigestMismatch,
    BundleExtraFile,
    BundleManifestError,
    BundleMissingFile,
    BundleSizeMismatch,
)

from ._hashing import NullProgress, ProgressSink, hash_file, workers
from ._report import FileResult, VerifyReport
from .manifest import parse_manifest, root_digest
from .receipt import RECEIPT_NAME, read_dir_receipt
from .sign import verify_signature


def is_destination(path: Path) -> bool:
    """A directory a load wrote: an import receipt and no bundle manifest."""
    return path.is_dir() and (path / RECEIPT_NAME).is_file() and not (path / "prai-bundle.json").exists()


def _unit(path: str) -> str:
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "adapters" else parts[0]


def verify_destination(
    dest: str | Path,
    *,
    key: str | Path | None = None,
    expected_root: str | None = None,
    manifest_path: str | Path | None = None,
    progress: ProgressSink | None = None,
) -> VerifyReport:
    """Verify a load destination directory; see the module docstring.

    Raises:
        BundleManifestError: no receipt, or root digest differs (14).
        BundleSignatureError: ``key`` given and the signature is missing or wrong (15).
    """
    sink = progress or NullProgress()
    dest = Path(dest)
    receipt = read_dir_receipt(dest)
    if receipt is None:
        raise BundleManifestError(f"{dest}: no {RECEIPT_NAME}; nothing was loaded here by prai bundle load")
    report = VerifyReport(location=str(dest), kind="destination")
    mbytes = Path(manifest_path).read_bytes() if manifest_path else receipt.manifest_bytes()
    report.root_digest = root_digest(mbytes)
    if expected_root is not None:
        want = expected_root if expected_root.startswith("sha256:") else "sha256:" + expected_root
        if want.lower() != report.root_digest:
            raise BundleManifestError(
                f"{dest} holds bundle {report.root_digest}, expected {want}",
                hint="load the expected bundle (or the delta that leads to it), then verify again",
            )
    if manifest_path is None and receipt.signature_b64 is not None and key is None:
        report.signature = "present (not checked: no --key)"
    if key is not None:
        sig = base64.b64decode(receipt.signature_b64) if receipt.signature_b64 else None
        report.signature = f"valid ({verify_signature(mbytes, sig, key)})"
    manifest = parse_manifest(mbytes)
    report.manifest = manifest
    held = {f.path for f in receipt.files} if not receipt.complete and manifest_path is None else None
    entries = [f for f in manifest.files if held is None or f.path in held]
    report.total_bytes = sum(f.size for f in entries)
    to_hash: list[FileResult] = []
    for f in entries:
        res = FileResult(f.path, f.role, f.name, "ok", f.size, None, f.sha256)
        report.files.append(res)
        path = dest / f.path
        if path.is_symlink() or not path.is_file():
            res.status = "missing"
            report.problems.append(BundleMissingFile(f"{dest}/{f.path} is missing ({f.role} {f.name!r})"))
            continue
        res.actual_size = path.stat().st_size
        if res.actual_size != f.size:
            res.status = "truncated" if res.actual_size < f.size else "size_mismatch"
            report.problems.append(
                BundleSizeMismatch(f"{dest}/{f.path} is {res.actual_size} bytes, the manifest says {f.size}")
            )
            continue
        to_hash.append(res)
    listed = {f.path for f in manifest.files}
    for unit in sorted({_unit(f.path) for f in entries}):
        for dirpath, dirnames, filenames in os.walk(dest / unit):
            dirnames[:] = [d for d in dirnames if not d.startswith(".prai-")]
            for fn in filenames:
                rel = (Path(dirpath) / fn).relative_to(dest).as_posix()
                if rel not in listed and not fn.startswith(".prai-"):
                    report.files.append(FileResult(rel, "?", "?", "extra"))
                    report.problems.append(BundleExtraFile(f"{dest}/{rel} is not in the manifest"))
    sink.start("verifying", sum(r.expected_size or 0 for r in to_hash))
    with ThreadPoolExecutor(max_workers=workers()) as pool:
        digests = list(pool.map(lambda r: hash_file(dest / r.path, sink.advance)[0], to_hash))
    for res, digest in zip(to_hash, digests, strict=True):
        res.actual_sha256 = digest
        if digest != res.expected_sha256:
            res.status = "corrupted"
            report.problems.append(
                BundleDigestMismatch(
                    f"{dest}/{res.path} is corrupted: SHA-256 {digest[:16]}… differs from the manifest"
                )
            )
    return report
