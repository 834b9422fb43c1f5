"""Delta bundles: carry only what the closed side does not hold yet.

At creation (``prai bundle create … --since RECEIPT_OR_MANIFEST``) every input is hashed
as usual; a file whose path and SHA-256 equal a file the base holds is listed in the
manifest (``files[]`` is always the full new state) but not carried: its path goes to
``delta.in_base``, and ``delta.base_root_digest`` names the base. Paths carry digests for
content-addressed parts (``images/blobs/sha256/…``), so shared blobs and unchanged wheels
drop out the same way.

At load, before anything is written, the destination must hold exactly that base: its
import receipt names ``base_root_digest``, and every ``in_base`` file is there with its
size and SHA-256 (re-hashed for a directory; ``x-amz-meta-sha256`` for S3). The load then
writes the carried files, removes the base's files the new state no longer lists, and
leaves a receipt for the new root digest, so ``prai bundle verify DEST`` checks the full
new manifest.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prai.errors import BundleBaseMismatch, BundleLoadError, UsageError

from ._hashing import hash_file, workers
from .manifest import DeltaFacts, FileEntry, Manifest
from .receipt import RECEIPT_NAME, BaseState, Receipt, parse_receipt, read_dir_receipt


def plan_delta(base: BaseState, digests: dict[str, tuple[str, int]]) -> DeltaFacts:
    """The files of the new state (path -> (sha256, size)) that ``base`` already holds."""
    same = [
        path
        for path, (sha, size) in digests.items()
        if (b := base.files.get(path)) is not None and b.sha256 == sha and b.size == size
    ]
    return DeltaFacts(base_root_digest=base.root_digest, in_base=sorted(same))


def _wrong_base(where: str, held: str | None, manifest: Manifest) -> BundleBaseMismatch:
    assert manifest.delta is not None
    what = f"holds bundle {held}" if held else "holds no PrAI import receipt (nothing loaded there yet)"
    return BundleBaseMismatch(
        f"this is a delta for base {manifest.delta.base_root_digest}, but {where} {what}; nothing was written"
    )


def check_dir_holds_base(dest: Path, manifest: Manifest) -> Receipt:
    """Refuse (before any write) unless ``dest`` holds the delta's base.

    Returns:
        The destination's current receipt (the base).

    Raises:
        BundleBaseMismatch: no receipt, another root digest, or an ``in_base`` file missing
        or changed since the base was loaded.
    """
    assert manifest.delta is not None
    receipt = read_dir_receipt(dest) if dest.is_dir() else None
    if receipt is None or receipt.root_digest != manifest.delta.base_root_digest:
        raise _wrong_base(str(dest), receipt.root_digest if receipt else None, manifest)
    entries = manifest.by_path()
    need = [entries[p] for p in manifest.delta.in_base]

    def intact(e: FileEntry) -> bool:
        path = dest / e.path
        if path.is_symlink() or not path.is_file() or path.stat().st_size != e.size:
            return False
        return hash_file(path)[0] == e.sha256

    with ThreadPoolExecutor(max_workers=workers()) as pool:
        oks = list(pool.map(intact, need))
    bad = [e.path for e, ok in zip(need, oks, strict=True) if not ok]
    if bad:
        raise BundleBaseMismatch(
            f"{dest} holds base {receipt.root_digest}, but {bad[0]} is missing or changed since it was loaded "
            f"({len(bad)} file(s)); the delta relies on it; nothing was written",
            hint="load the full bundle instead (prai bundle load FULL_BUNDLE --to …), then apply later deltas",
        )
    return receipt


def remove_dropped_dir(dest: Path, base: Receipt, manifest: Manifest) -> list[str]:
    """Remove the base's files that the new state no longer lists (only those: nothing
    else under ``dest`` is touched), then directories left empty.

    Returns:
        The removed paths.
    """
    keep = set(manifest.by_path())
    removed = []
    for f in base.files:
        if f.path in keep:
            continue
        path = dest / f.path
        cur = dest
        if any((cur := cur / part).is_symlink() for part in Path(f.path).parts):
            raise BundleLoadError(f"{cur} is a symbolic link; PrAI does not remove through links")
        try:
            path.unlink()
            removed.append(f.path)
        except FileNotFoundError:
            continue
        parent = path.parent
        while parent != dest and parent.is_relative_to(dest):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent
    return removed


def check_s3_holds_base(to: str, manifest: Manifest, client: Any) -> Receipt:
    """As :func:`check_dir_holds_base` for ``s3://bucket/prefix``: the receipt object
    beside the objects names the base, and each ``in_base`` object has the manifest's
    size and ``x-amz-meta-sha256``.

    Raises:
        BundleBaseMismatch: as for directories.
    """
    from botocore.exceptions import ClientError

    assert manifest.delta is not None
    bucket, _, prefix = to.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")

    def key(rel: str) -> str:
        return f"{prefix}/{rel}" if prefix else rel

    try:
        body = client.get_object(Bucket=bucket, Key=key(RECEIPT_NAME))["Body"].read()
        receipt: Receipt | None = parse_receipt(body, f"s3://{bucket}/{key(RECEIPT_NAME)}")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        receipt = None
    if receipt is None or receipt.root_digest != manifest.delta.base_root_digest:
        raise _wrong_base(to, receipt.root_digest if receipt else None, manifest)
    entries = manifest.by_path()
    for path in manifest.delta.in_base:
        e = entries[path]
        try:
            head = client.head_object(Bucket=bucket, Key=key(path))
        except ClientError:
            head = {}
        if head.get("ContentLength") != e.size or head.get("Metadata", {}).get("sha256") != e.sha256:
            raise BundleBaseMismatch(
                f"{to} holds base {receipt.root_digest}, but s3://{bucket}/{key(path)} is missing or changed; "
                "nothing was written"
            )
    return receipt


def remove_dropped_s3(to: str, base: Receipt, manifest: Manifest, client: Any) -> list[str]:
    """Delete the base's objects that the new state no longer lists."""
    bucket, _, prefix = to.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    keep = set(manifest.by_path())
    gone = [f.path for f in base.files if f.path not in keep]
    for path in gone:
        client.delete_object(Bucket=bucket, Key=f"{prefix}/{path}" if prefix else path)
    return gone


def refuse_unsupported(to: str, only: str | None) -> None:
    """A delta loads whole, into a directory or S3.

    Raises:
        UsageError: ``--only`` given, or an ``oci://`` destination.
    """
    if only is not None:
        raise UsageError(
            "--only cannot be used with a delta bundle: a delta must end in the full new state",
            hint="load the delta without --only",
        )
    if to.startswith("oci://"):
        raise UsageError(
            "a delta bundle cannot be pushed as an OCI modelcar (the image needs every file)",
            hint="load the delta into the PVC directory or S3 prefix that holds its base, or push a full bundle",
        )


def _s3_client(endpoint_url: str | None, ca_bundle: str | Path | None, env_file: str | Path | None) -> Any:
    from prai.settings import get_settings

    from .load_s3 import _client, read_env_file

    env = read_env_file(env_file) if env_file else {}
    endpoint = endpoint_url or env.get("AWS_S3_ENDPOINT") or get_settings().aws_s3_endpoint
    return _client(endpoint, ca_bundle, env)


def check_holds_base(
    to: str,
    manifest: Manifest,
    only: str | None,
    *,
    endpoint_url: str | None = None,
    ca_bundle: str | Path | None = None,
    env_file: str | Path | None = None,
) -> Receipt:
    """Refuse a delta load (before any write) unless ``to`` holds its base.

    Raises:
        UsageError: ``--only`` or an OCI destination. BundleBaseMismatch: another base.
        BundleLoadError: S3 unreachable.
    """
    refuse_unsupported(to, only)
    if to.startswith("s3://"):
        from botocore.exceptions import BotoCoreError, ClientError

        from .load_s3 import _translate

        try:
            return check_s3_holds_base(to, manifest, _s3_client(endpoint_url, ca_bundle, env_file))
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, endpoint_url or "S3") from None
    return check_dir_holds_base(Path(to), manifest)


def remove_dropped(
    to: str,
    base: Receipt,
    manifest: Manifest,
    *,
    endpoint_url: str | None = None,
    ca_bundle: str | Path | None = None,
    env_file: str | Path | None = None,
) -> list[str]:
    """After a delta load: remove the base's files the new state does not list."""
    if to.startswith("s3://"):
        return remove_dropped_s3(to, base, manifest, _s3_client(endpoint_url, ca_bundle, env_file))
    return remove_dropped_dir(Path(to).resolve(), base, manifest)


__all__ = [
    "check_dir_holds_base",
    "check_holds_base",
    "check_s3_holds_base",
    "plan_delta",
    "refuse_unsupported",
    "remove_dropped",
    "remove_dropped_dir",
    "remove_dropped_s3",
]
