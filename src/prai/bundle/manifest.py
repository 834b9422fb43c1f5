"""The bundle manifest (``prai-bundle.json``), SHA256SUMS and the root digest.

Format (documented in docs/bundle-format.md): UTF-8 JSON, keys sorted, two-space
indent, one trailing newline. The root digest is the SHA-256 of exactly those bytes;
a signature (``prai-bundle.json.sig``) is made over the same bytes. ``SHA256SUMS``
lists every payload file in manifest order in GNU coreutils' text format
(``<64 hex>  <path>``), so ``sha256sum -c SHA256SUMS`` run inside the bundle checks it.
"""

from __future__ import annotations

import json
import posixpath
import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prai.errors import BundleManifestError, BundleUnsafePath

from ._hashing import sha256_bytes

MANIFEST_NAME = "prai-bundle.json"
SIGNATURE_NAME = "prai-bundle.json.sig"
SUMS_NAME = "SHA256SUMS"
CONTROL_FILES = (MANIFEST_NAME, SIGNATURE_NAME, SUMS_NAME)
FORMAT = "prai-bundle"
FORMAT_VERSION = 1

Role = Literal["model", "adapter", "ca", "images", "eval", "other"]
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_relpath(path: str) -> str:
    """Return ``path`` if it is a safe relative POSIX path inside a bundle.

    Raises:
        BundleUnsafePath: empty, absolute, backslashes, ``..`` or ``.`` components, NUL.
    """
    if (
        not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or re.match(r"^[A-Za-z]:", path)
        or any(part in ("", ".", "..") for part in path.split("/"))
        or posixpath.normpath(path) != path
    ):
        raise BundleUnsafePath(f"unsafe path in bundle: {path!r} (absolute, '..' or malformed)")
    return path


class FileEntry(_Strict):
    """One payload file: role, logical name, relative path, size (bytes), SHA-256 (hex)."""

    role: Role
    name: str
    path: str
    size: int = Field(ge=0)
    sha256: str

    @field_validator("path")
    @classmethod
    def _safe(cls, v: str) -> str:
        return check_relpath(v)

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not _HEX64.match(v):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return v


class ModelFacts(_Strict):
    """Facts read from the model's config.json and safetensors headers."""

    name: str
    path: str
    architectures: list[str] = []
    model_type: str | None = None
    dtype: str | None = None
    parameter_count: int | None = None
    max_context_tokens: int | None = None
    hidden_size: int | None = None
    num_hidden_layers: int | None = None
    vocab_size: int | None = None
    has_chat_template: bool = False
    weight_files: list[str] = []
    hf_cache_verified_files: int = 0


class AdapterFacts(_Strict):
    """Facts read from a PEFT adapter's adapter_config.json."""

    name: str
    path: str
    peft_type: str | None = None
    base_model_name_or_path: str | None = None
    rank: int | None = None
    lora_alpha: float | None = None
    target_modules: list[str] = []


class CAFacts(_Strict):
    """One CA certificate (a PEM file may hold several; one entry each)."""

    name: str
    path: str
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    sha256_fingerprint: str


class ImageRef(_Strict):
    """A container image reference, pinned by digest when ``digest`` is set.

    Carried images (``prai bundle create --image``, issue 14) are in ``images/`` as an OCI
    image layout: ``carried`` is true, ``digest`` is the manifest (or index) digest stored
    there byte for byte, ``media_type`` its media type, ``platforms`` the ``os/arch``
    of the image(s), ``index_digest`` the source's index when ``--platform`` narrowed it,
    ``source`` where it came from (registry | oci-layout | docker-archive).
    """

    ref: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    # --- issue 14: carried images ---
    carried: bool = False
    media_type: str | None = None
    platforms: list[str] = []
    index_digest: str | None = None
    source: Literal["registry", "oci-layout", "docker-archive"] | None = None


class Manifest(_Strict):
    """The whole manifest. ``files`` lists every payload file, in bundle order."""

    format: Literal["prai-bundle"] = "prai-bundle"
    format_version: Literal[1] = 1
    created_at: datetime
    created_by: str
    files: list[FileEntry]
    model: ModelFacts | None = None
    adapters: list[AdapterFacts] = []
    cas: list[CAFacts] = []
    images: list[ImageRef] = []
    warnings: list[str] = []

    @property
    def total_bytes(self) -> int:
        """Sum of the payload files' sizes (bytes)."""
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, FileEntry]:
        """path -> entry (paths are unique; checked by :func:`parse_manifest`)."""
        return {f.path: f for f in self.files}


def dump_manifest(manifest: Manifest) -> bytes:
    """Canonical bytes of the manifest (sorted keys, indent 2, trailing newline)."""
    data = manifest.model_dump(mode="json")
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def root_digest(manifest_bytes: bytes) -> str:
    """``sha256:<hex>`` of the manifest's bytes: the one value to carry out of band."""
    return "sha256:" + sha256_bytes(manifest_bytes)


def parse_manifest(data: bytes, source: str = MANIFEST_NAME) -> Manifest:
    """Parse and check manifest bytes.

    Raises:
        BundleManifestError: not JSON, not our schema, duplicate or control-file paths.
        BundleUnsafePath: a listed path would escape the bundle.
    """
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleManifestError(f"{source}: not valid JSON ({exc.__class__.__name__})") from None
    if isinstance(raw, dict):
        for f in raw.get("files") or []:
            if isinstance(f, dict) and isinstance(f.get("path"), str):
                check_relpath(f["path"])
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise BundleManifestError(
            f"{source}: not a PrAI bundle manifest ({loc or 'top level'}: {first['msg']})"
        ) from None
    seen: set[str] = set()
    for f in manifest.files:
        if f.path in seen or f.path in CONTROL_FILES:
            raise BundleManifestError(f"{source}: path {f.path!r} is listed twice or reserved")
        seen.add(f.path)
    return manifest


def render_sums(manifest: Manifest) -> bytes:
    """SHA256SUMS text for the manifest's files (``sha256sum -c`` format)."""
    return "".join(f"{f.sha256}  {f.path}\n" for f in manifest.files).encode()


def check_sums(manifest: Manifest, sums: bytes, source: str = SUMS_NAME) -> None:
    """SHA256SUMS must list exactly the manifest's files and digests.

    Raises:
        BundleManifestError: any line differs (one of the two files was edited).
    """
    if sums != render_sums(manifest):
        expected = {f.path: f.sha256 for f in manifest.files}
        got: dict[str, str] = {}
        for line in sums.decode("utf-8", "replace").splitlines():
            digest, _, path = line.partition("  ")
            got[path.lstrip("*")] = digest
        differing = sorted(set(expected.items()) ^ set(got.items()))
        where = differing[0][0] if differing else "(line format)"
        raise BundleManifestError(
            f"{source} does not match {MANIFEST_NAME} (first difference: {where}); "
            "one of them was edited after the bundle was created"
        )
