"""Import receipts: what a ``prai bundle load`` left at its destination.

``.prai-import-receipt.json`` (UTF-8 JSON, keys sorted, indent 2) records the bundle's
root digest, the exact manifest text (its SHA-256 is the root digest, so the receipt
proves which bundle it describes), the signature when the bundle had one, every file
loaded with its size and SHA-256, images pushed with their digests, when and by whom
(``user@host``). It sits in the destination directory, beside the objects under an S3
prefix (``PREFIX/.prai-import-receipt.json``) and, with ``--receipt FILE``, anywhere
the operator wants to carry it back out: ``prai bundle create --since RECEIPT`` makes
the next delta from it.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from prai import __version__
from prai.errors import BundleManifestError, UsageError

from .manifest import MANIFEST_NAME, FileEntry, Manifest, parse_manifest, root_digest

if TYPE_CHECKING:
    from ._loaded import LoadResult
    from ._source import BundleSource

RECEIPT_NAME = ".prai-import-receipt.json"


class ReceiptFile(BaseModel):
    """One loaded file: bundle path, size (bytes), SHA-256 (hex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str
    size: int
    sha256: str


class Receipt(BaseModel):
    """The receipt. ``complete``: every file of the manifest was loaded (no ``--only``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["prai-import-receipt"] = "prai-import-receipt"
    format_version: Literal[1] = 1
    root_digest: str
    destination: str
    location: str
    loaded_at: datetime
    loaded_by: str
    prai_version: str
    only: str | None = None
    complete: bool
    delta_base_root_digest: str | None = None
    files: list[ReceiptFile]
    images: list[dict[str, Any]] = []
    manifest: str
    signature_b64: str | None = None

    def manifest_bytes(self) -> bytes:
        return self.manifest.encode("utf-8")


def operator() -> str:
    """``user@host`` of the process (the OS login name and host name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def make_receipt(
    *,
    manifest_bytes: bytes,
    manifest: Manifest,
    signature: bytes | None,
    files: list[FileEntry],
    destination: str,
    location: str,
    only: str | None,
    images: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Receipt:
    """The receipt of one load (``files``: what was loaded, all of them unless ``only``)."""
    return Receipt(
        root_digest=root_digest(manifest_bytes),
        destination=destination,
        location=location,
        loaded_at=(now or datetime.now(UTC)).replace(microsecond=0),
        loaded_by=operator(),
        prai_version=__version__,
        only=only,
        complete=only is None,
        delta_base_root_digest=manifest.delta.base_root_digest if manifest.delta else None,
        files=[ReceiptFile(path=f.path, size=f.size, sha256=f.sha256) for f in files],
        images=images or [],
        manifest=manifest_bytes.decode("utf-8"),
        signature_b64=base64.b64encode(signature).decode() if signature else None,
    )


def dump_receipt(receipt: Receipt) -> bytes:
    """Canonical bytes (keys sorted, indent 2, trailing newline)."""
    return (json.dumps(receipt.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def parse_receipt(data: bytes, source: str) -> Receipt:
    """Parse a receipt and check that its manifest text is the bundle it names.

    Raises:
        BundleManifestError: not a receipt, or its manifest does not hash to its root digest.
    """
    try:
        receipt = Receipt.model_validate(json.loads(data.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, ValidationError):
        raise BundleManifestError(f"{source}: not a PrAI import receipt") from None
    if root_digest(receipt.manifest_bytes()) != receipt.root_digest:
        raise BundleManifestError(
            f"{source}: its manifest does not hash to its root digest {receipt.root_digest}; the receipt was edited"
        )
    return receipt


def write_dir_receipt(dest: Path, data: bytes) -> Path:
    """Write ``DEST/.prai-import-receipt.json`` atomically (0644)."""
    tmp = dest / (RECEIPT_NAME + ".partial")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest / RECEIPT_NAME)
    return dest / RECEIPT_NAME


def read_dir_receipt(dest: Path) -> Receipt | None:
    """The receipt in a destination directory, or None when there is none."""
    path = dest / RECEIPT_NAME
    if not path.is_file() or path.is_symlink():
        return None
    return parse_receipt(path.read_bytes(), str(path))


@dataclass
class BaseState:
    """What a destination holds (the base of a delta): its root digest, its manifest and
    the files held (path -> entry; a subset of the manifest after ``--only``)."""

    root_digest: str
    manifest: Manifest
    files: dict[str, FileEntry]
    source: str


def read_base(since: str | Path) -> BaseState:
    """Read ``--since``: an import receipt, a manifest file (``prai-bundle.json`` or the
    ``.prai-bundle.json`` an S3 load leaves), a bundle (directory, tar, parts), or a
    loaded destination directory (its receipt).

    Raises:
        UsageError: nothing readable there. BundleManifestError: not a receipt or manifest.
    """
    p = Path(since)
    if p.is_dir() and (p / RECEIPT_NAME).is_file() and not (p / MANIFEST_NAME).exists():
        p = p / RECEIPT_NAME
    if p.is_file() and p.suffix == ".json":
        data = p.read_bytes()
        try:
            kind = json.loads(data.decode("utf-8")).get("format")
        except (UnicodeDecodeError, ValueError, AttributeError):
            kind = None
        if kind == "prai-import-receipt":
            r = parse_receipt(data, str(p))
            m = parse_manifest(r.manifest_bytes(), str(p))
            held = {f.path for f in r.files}
            return BaseState(r.root_digest, m, {f.path: f for f in m.files if f.path in held}, str(p))
        if kind == "prai-bundle":
            m = parse_manifest(data, str(p))
            return BaseState(root_digest(data), m, m.by_path(), str(p))
        raise UsageError(f"--since {since}: neither an import receipt nor a bundle manifest")
    if p.exists():
        from ._source import open_bundle

        data = open_bundle(p).manifest_bytes
        m = parse_manifest(data, str(p))
        return BaseState(root_digest(data), m, m.by_path(), str(p))
    raise UsageError(
        f"--since {since}: no such file",
        hint="pass the .prai-import-receipt.json the closed side sent back, or the base bundle's prai-bundle.json",
    )


def put_s3_receipt(
    to: str,
    data: bytes,
    *,
    endpoint_url: str | None,
    ca_bundle: str | Path | None,
    env_file: str | Path | None,
) -> str:
    """Store the receipt beside the objects: ``s3://bucket/PREFIX/.prai-import-receipt.json``.

    Raises:
        BundleLoadError: S3 refused (TLS, credentials, bucket).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    from prai.settings import get_settings

    from .load_s3 import _client, _translate, read_env_file

    bucket, _, prefix = to.removeprefix("s3://").partition("/")
    prefix = prefix.strip("/")
    env = read_env_file(env_file) if env_file else {}
    endpoint = endpoint_url or env.get("AWS_S3_ENDPOINT") or get_settings().aws_s3_endpoint
    key = f"{prefix}/{RECEIPT_NAME}" if prefix else RECEIPT_NAME
    try:
        _client(endpoint, ca_bundle, env).put_object(
            Bucket=bucket, Key=key, Body=data, ContentType="application/json", ChecksumAlgorithm="SHA256"
        )
    except (ClientError, BotoCoreError) as exc:
        raise _translate(exc, endpoint or "AWS S3") from None
    return f"s3://{bucket}/{key}"


def record_load(
    result: LoadResult,
    src: BundleSource,
    manifest: Manifest,
    files: list[FileEntry],
    to: str,
    *,
    only: str | None,
    receipt_out: str | Path | None = None,
    endpoint_url: str | None = None,
    ca_bundle: str | Path | None = None,
    env_file: str | Path | None = None,
    authfile: str | Path | None = None,
) -> Receipt:
    """Leave the receipt of a finished load at the destination (a directory: the file
    ``DEST/.prai-import-receipt.json``; S3: the object beside the others; an OCI
    modelcar: an OCI artifact beside the image, see :func:`push_oci_receipt`), and to
    ``receipt_out`` when given. Images pushed are taken from ``result.details["images"]``
    (a list of {source, mirror, digest}) when a loader reports them.

    Sets ``result.details["receipt"]`` to where the receipt was stored.
    """
    images = result.details.get("images")
    receipt = make_receipt(
        manifest_bytes=src.manifest_bytes,
        manifest=manifest,
        signature=src.signature,
        files=files,
        destination=to,
        location=result.location,
        only=only,
        images=images if isinstance(images, list) else None,
    )
    data = dump_receipt(receipt)
    stored: list[str] = []
    if to.startswith("s3://"):
        stored.append(put_s3_receipt(to, data, endpoint_url=endpoint_url, ca_bundle=ca_bundle, env_file=env_file))
    elif to.startswith("oci://") and result.details.get("digest"):
        stored.append(push_oci_receipt(to, str(result.details["digest"]), data, ca_bundle=ca_bundle, authfile=authfile))
    elif "://" not in to:
        stored.append(str(write_dir_receipt(Path(to).resolve(), data)))
    if receipt_out is not None:
        out = Path(receipt_out)
        tmp = out.with_name(f".{out.name}.partial")
        tmp.write_bytes(data)
        os.replace(tmp, out)
        stored.append(str(out))
    result.details["receipt"] = stored
    if not stored:
        result.details["receipt_json"] = receipt.model_dump(mode="json")
    return receipt


RECEIPT_MEDIA_TYPE = "application/vnd.prai.import-receipt.v1+json"
_EMPTY = b"{}"  # OCI image-spec v1.1 "empty descriptor" content


def receipt_tag(tag: str) -> str:
    """The tag of the receipt artifact beside ``REPO:TAG``: ``TAG.prai-receipt``."""
    return f"{tag[:115]}.prai-receipt"


def push_oci_receipt(
    to: str, image_digest: str, data: bytes, *, ca_bundle: str | Path | None, authfile: str | Path | None
) -> str:
    """Store the receipt beside a modelcar image as an OCI artifact (image-spec v1.1):
    an image manifest with ``artifactType`` ``application/vnd.prai.import-receipt.v1+json``,
    the empty config, one layer (the receipt) and ``subject`` = the modelcar manifest,
    tagged ``TAG.prai-receipt`` in the same repository (registries without the referrers
    API still find it by tag). ``skopeo inspect --raw docker://REPO:TAG.prai-receipt``
    shows it.

    Returns:
        ``host/repo:TAG.prai-receipt@sha256:…``.

    Raises:
        ImageRegistryError: the registry refused (TLS, auth, upload).
    """
    import hashlib
    import io

    from .load_oci import _REF, MT_MANIFEST
    from .registry import RegistryClient
    from .registry_auth import resolve_credentials

    m = _REF.match(to)
    assert m is not None  # load_to_oci parsed it already
    host, repo, tag = m["host"], m["repo"], m["tag"] or "latest"
    reg = RegistryClient(host, ca_bundle=ca_bundle, creds=resolve_credentials(host, repo, authfile=authfile))
    with reg:
        subject = reg.get_manifest(repo, image_digest)
        blobs = []
        for body in (_EMPTY, data):
            digest = "sha256:" + hashlib.sha256(body).hexdigest()
            if reg.blob_size(repo, digest) != len(body):
                reg.upload_blob(repo, digest, len(body), lambda b=body: io.BytesIO(b))  # type: ignore[misc]
            blobs.append({"digest": digest, "size": len(body)})
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "artifactType": RECEIPT_MEDIA_TYPE,
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", **blobs[0]},
                "layers": [{"mediaType": RECEIPT_MEDIA_TYPE, **blobs[1]}],
                "subject": {"mediaType": MT_MANIFEST, "digest": image_digest, "size": len(subject.data)},
                "annotations": {"org.opencontainers.image.title": RECEIPT_NAME},
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        reg.put_manifest(repo, receipt_tag(tag), manifest, MT_MANIFEST)
    return f"{host}/{repo}:{receipt_tag(tag)}@sha256:{hashlib.sha256(manifest).hexdigest()}"
