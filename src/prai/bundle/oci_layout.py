"""Read OCI image layouts and ``docker save`` archives; describe the layout inside a bundle.

Formats:

* OCI image layout (image-spec v1.1, ``image-layout.md``): ``oci-layout``
  (``{"imageLayoutVersion": "1.0.0"}``), ``index.json`` (an image index whose entries name
  images with the ``org.opencontainers.image.ref.name`` annotation), ``blobs/sha256/<hex>``.
* ``docker save`` archive: a tar with ``manifest.json`` (``[{"Config", "RepoTags",
  "Layers"}]``), the config JSON and uncompressed layer tars (Docker 25+ also writes an OCI
  layout into the same tar; it is then read as one, so the recorded digests survive).
  Legacy archives carry no manifest, so one is written here: an OCI image manifest
  (``application/vnd.oci.image.manifest.v1+json``, keys sorted, no spaces) whose config
  is the archive's config JSON byte for byte and whose layers are the archive's layer
  tars (``application/vnd.oci.image.layer.v1.tar``, or ``+gzip`` when compressed); each
  layer must hash to its ``rootfs.diff_ids`` entry.

Every byte read is checked against its digest before it is used: a blob that does not
match is a :class:`~prai.errors.BundleDigestMismatch` naming the image and the blob.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from prai.errors import (
    BundleDigestMismatch,
    BundleError,
    BundleExtraFile,
    BundleImageLayoutError,
    BundleMissingFile,
    BundleSizeMismatch,
    UsageError,
)

from ._hashing import CHUNK_BYTES
from ._json import load_json
from .manifest import ImageRef, Manifest, show
from .registry import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    sha256_digest,
)

LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
LAYOUT_BYTES = b'{"imageLayoutVersion":"1.0.0"}'
REF_NAME = "org.opencontainers.image.ref.name"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_OCI_LAYER_GZIP = MT_OCI_LAYER + "+gzip"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: media type, ``sha256:…`` digest, size (bytes)."""

    media_type: str
    digest: str
    size: int
    platform: str | None = None  # "os/arch[/variant]" for index entries
    annotations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def hex(self) -> str:
        return self.digest.removeprefix("sha256:")


def parse_doc(data: bytes, where: str) -> tuple[dict[str, Any], str]:
    """Parse a manifest or index; returns (document, media type).

    The media type comes from ``mediaType``; an OCI document without one is an index
    when it has ``manifests``, else an image manifest.

    Raises:
        UsageError: not JSON, Docker schema 1, or an unknown media type.
    """
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{where}: the manifest is not a JSON object") from None
    if doc.get("schemaVersion") == 1:
        raise UsageError(
            f"{where}: Docker schema 1 manifests are not supported",
            hint="rebuild or copy the image with a current tool (schema 2 / OCI)",
        )
    mt = doc.get("mediaType") or (MT_OCI_INDEX if "manifests" in doc else MT_OCI_MANIFEST)
    if mt not in INDEX_TYPES + MANIFEST_TYPES:
        raise UsageError(f"{where}: unsupported manifest media type {mt!r}")
    return doc, mt


def platform_str(p: dict[str, Any] | None) -> str | None:
    """``os/arch[/variant]`` of a descriptor's ``platform`` (None when absent)."""
    if not p or not p.get("os") or not p.get("architecture"):
        return None
    s = f"{p['os']}/{p['architecture']}"
    return s + f"/{p['variant']}" if p.get("variant") else s


def _desc(d: dict[str, Any], where: str) -> Descriptor:
    try:
        digest, size = str(d["digest"]), int(d["size"])
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{where}: a descriptor without digest or size") from None
    if not digest.startswith("sha256:") or len(digest) != 71:
        raise UsageError(f"{where}: digest {digest!r} is not sha256:<64 hex>")
    return Descriptor(
        str(d.get("mediaType", "")),
        digest,
        size,
        platform_str(d.get("platform")),
        {str(k): str(v) for k, v in (d.get("annotations") or {}).items()},
    )


def index_entries(doc: dict[str, Any], where: str) -> list[Descriptor]:
    """The ``manifests`` of an index."""
    return [_desc(d, where) for d in doc.get("manifests") or []]


def image_blobs(doc: dict[str, Any], where: str) -> list[Descriptor]:
    """Config and layers of an image manifest (config first)."""
    if "config" not in doc:
        raise UsageError(f"{where}: an image manifest without config")
    return [_desc(doc["config"], where)] + [_desc(d, where) for d in doc.get("layers") or []]


def check_bytes(data: bytes, digest: str, size: int | None, image: str, what: str) -> None:
    """Raise when ``data`` is not the blob ``digest`` (of ``size`` bytes)."""
    actual = sha256_digest(data)
    if actual != digest or (size is not None and len(data) != size):
        raise BundleDigestMismatch(
            f"image {image}: {what} {digest} does not match its content (SHA-256 {actual}, "
            f"{len(data)} bytes); nothing was written",
            hint="the image source is damaged; copy or pull the image again",
        )


def hash_stream_check(
    f: BinaryIO,
    digest: str,
    size: int,
    image: str,
    what: str,
    *,
    out: BinaryIO | None = None,
    on_bytes: Callable[[int], None] | None = None,
) -> None:
    """Read ``f`` to the end (copying into ``out``), check SHA-256 and size.

    Raises:
        BundleDigestMismatch: names ``image`` and the blob.
    """
    h = hashlib.sha256()
    n = 0
    while chunk := f.read(CHUNK_BYTES):
        h.update(chunk)
        n += len(chunk)
        if out is not None:
            out.write(chunk)
        if on_bytes is not None:
            on_bytes(len(chunk))
    actual = "sha256:" + h.hexdigest()
    if actual != digest or n != size:
        raise BundleDigestMismatch(
            f"image {image}: {what} {digest} does not match its content (SHA-256 {actual}, "
            f"{n} of {size} bytes); nothing was written",
            hint="the image source is damaged; copy or pull the image again",
        )


# --- local sources ----------------------------------------------------------------------


class BlobReader:
    """Random access to the blobs of an OCI layout in a directory or inside a tar."""

    def __init__(self, root: Path | None, tar: Path | None, members: dict[str, tuple[int, int]]):
        self.root = root
        self.tar = tar
        self.members = members  # tar path -> (offset of data, size)

    def exists(self, rel: str) -> bool:
        if self.root is not None:
            return (self.root / rel).is_file()
        return rel in self.members

    def size(self, rel: str) -> int:
        if self.root is not None:
            return (self.root / rel).stat().st_size
        return self.members[rel][1]

    def open(self, rel: str) -> BinaryIO:
        if self.root is not None:
            return open(self.root / rel, "rb")
        assert self.tar is not None
        offset, size = self.members[rel]
        f = open(self.tar, "rb")  # noqa: SIM115
        f.seek(offset)
        return _Slice(f, size)  # type: ignore[return-value]

    def read(self, rel: str, limit: int = 16 << 20) -> bytes:
        if self.size(rel) > limit:
            raise UsageError(f"{rel} is larger than {limit} bytes; not a manifest")
        with self.open(rel) as f:
            return f.read()

    def path(self, rel: str) -> Path | None:
        """The file itself when the layout is a directory (blobs are used in place)."""
        return self.root / rel if self.root is not None else None


class _Slice:
    """``size`` bytes of an open file from its current position (a tar member)."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f = f
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def __enter__(self) -> _Slice:
        return self

    def __exit__(self, *exc: object) -> None:
        self._f.close()

    def close(self) -> None:
        self._f.close()


def _tar_members(path: Path) -> dict[str, tuple[int, int]]:
    """Regular files of a tar (symlinks resolved inside the tar): name -> (offset, size)."""
    out: dict[str, tuple[int, int]] = {}
    links: dict[str, str] = {}
    try:
        with tarfile.open(path, mode="r:") as tf:
            for m in tf:
                name = m.name.removeprefix("./")
                if m.isreg():
                    out[name] = (m.offset_data, m.size)
                elif m.issym():
                    links[name] = posixpath.normpath(
                        posixpath.join(posixpath.dirname(name), m.linkname)
                    )
                elif m.islnk():
                    links[name] = m.linkname.removeprefix("./")
    except (tarfile.TarError, OSError) as exc:
        raise UsageError(f"docker-archive:{path}: not a readable tar ({exc.__class__.__name__})"
                         ) from None
    for name, target in links.items():
        for _ in range(8):
            if target in links:
                target = links[target]
        if target in out:
            out[name] = out[target]
    return out


@dataclass
class LocalImage:
    """An image found in a local layout or archive, before its blobs are copied.

    Attributes:
        top: the manifest or index bytes exactly as stored (or generated for legacy
            docker archives), with media type and digest.
        name: the reference it is known by (``repo:tag``), or None when the source has none.
        reader: where its blobs are.
        blob_paths: digest -> path inside ``reader`` (``blobs/sha256/<hex>`` for layouts).
        generated: digest -> bytes produced here (the manifest of a legacy archive).
        diff_ids: legacy archives: layer digest -> expected uncompressed digest.
    """

    top_data: bytes
    top_media_type: str
    top_digest: str
    name: str | None
    reader: BlobReader
    blob_paths: dict[str, str] = field(default_factory=dict)
    generated: dict[str, bytes] = field(default_factory=dict)
    kind: str = "oci-layout"

    def blob_path(self, digest: str) -> str:
        return self.blob_paths.get(digest, "blobs/sha256/" + digest.removeprefix("sha256:"))

    def read_manifest(self, d: Descriptor, image: str) -> bytes:
        """A child manifest's bytes, checked against its descriptor."""
        if d.digest in self.generated:
            return self.generated[d.digest]
        rel = self.blob_path(d.digest)
        if not self.reader.exists(rel):
            raise UsageError(f"image {image}: manifest {d.digest} is missing from the layout")
        data = self.reader.read(rel)
        check_bytes(data, d.digest, d.size, image, "manifest")
        return data


def _pick(entries: list[Descriptor], selector: str | None, where: str) -> Descriptor:
    if selector is None:
        if len(entries) == 1:
            return entries[0]
        names = [e.annotations.get(REF_NAME, e.digest) for e in entries]
        raise UsageError(
            f"{where} holds {len(entries)} images; name one",
            hint=f"append :NAME with one of: {', '.join(names) or '(none)'}",
        )
    for e in entries:
        if selector in (e.annotations.get(REF_NAME), e.digest):
            return e
    names = [e.annotations.get(REF_NAME, e.digest) for e in entries]
    raise UsageError(
        f"{where}: no image named {selector!r}",
        hint=f"images there: {', '.join(names) or '(none)'}",
    )


def _open_layout(reader: BlobReader, selector: str | None, where: str, kind: str) -> LocalImage:
    if not reader.exists(LAYOUT_FILE) or not reader.exists(INDEX_FILE):
        raise UsageError(
            f"{where}: not an OCI image layout (no {LAYOUT_FILE} or {INDEX_FILE})",
            hint="write one with `skopeo copy docker://… oci:DIR:TAG` or `podman save "
            "--format oci-dir`",
        )
    try:
        version = json.loads(reader.read(LAYOUT_FILE)).get("imageLayoutVersion")
    except (ValueError, AttributeError):
        version = None
    if version != "1.0.0":
        raise UsageError(f"{where}: unsupported {LAYOUT_FILE} (imageLayoutVersion {version!r})")
    index, _ = parse_doc(reader.read(INDEX_FILE), f"{where}/{INDEX_FILE}")
    chosen = _pick(index_entries(index, where), selector, where)
    rel = "blobs/sha256/" + chosen.hex
    if not reader.exists(rel):
        raise UsageError(f"{where}: manifest {chosen.digest} is missing from blobs/sha256/")
    data = reader.read(rel)
    label = selector or chosen.annotations.get(REF_NAME) or where
    check_bytes(data, chosen.digest, chosen.size, label, "manifest")
    _, mt = parse_doc(data, f"{where}@{chosen.digest}")
    # Docker 25+ names the image in io.containerd.image.name and puts only the tag in ref.name
    name = chosen.annotations.get("io.containerd.image.name") or chosen.annotations.get(REF_NAME)
    return LocalImage(data, chosen.media_type or mt, chosen.digest, name, reader, kind=kind)


def open_oci_dir(path: Path, selector: str | None) -> LocalImage:
    """The image ``selector`` (a ref.name or ``sha256:…``; None = the only one) of the OCI
    layout directory ``path``.

    Raises:
        UsageError: not a layout, no such image, several and none chosen.
        BundleDigestMismatch: the chosen manifest does not match its digest.
    """
    if not path.is_dir():
        raise UsageError(f"oci:{path}: no such directory")
    return _open_layout(BlobReader(path, None, {}), selector, f"oci:{path}", "oci-layout")


def open_docker_archive(path: Path, selector: str | None) -> LocalImage:
    """The image ``selector`` (a ``RepoTags`` entry; None = the only one) of a ``docker
    save`` archive.

    Raises:
        UsageError: not a docker archive, no such image.
        BundleDigestMismatch: the config does not match the digest in its file name.
    """
    if not path.is_file():
        raise UsageError(f"docker-archive:{path}: no such file")
    members = _tar_members(path)
    reader = BlobReader(None, path, members)
    where = f"docker-archive:{path}"
    if INDEX_FILE in members and LAYOUT_FILE in members:
        try:
            img = _open_layout(reader, selector, where, "docker-archive")
        except UsageError:
            if selector is None:
                raise
        else:
            return img
    if "manifest.json" not in members:
        raise UsageError(
            f"{where}: not a docker archive (no manifest.json)",
            hint="write one with `docker save -o FILE IMAGE` or `podman save -o FILE IMAGE`",
        )
    try:
        entries = json.loads(reader.read("manifest.json"))
        if not isinstance(entries, list):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise UsageError(f"{where}: manifest.json is not a list of images") from None
    tags = [list(e.get("RepoTags") or []) for e in entries]
    if selector is None:
        if len(entries) != 1:
            raise UsageError(
                f"{where} holds {len(entries)} images; name one",
                hint=f"append :REPO:TAG with one of: {', '.join(t for ts in tags for t in ts)}",
            )
        entry, name = entries[0], (tags[0][0] if tags[0] else None)
    else:
        found = [(e, selector) for e, ts in zip(entries, tags, strict=True) if selector in ts]
        if not found:
            raise UsageError(
                f"{where}: no image tagged {selector!r}",
                hint=f"tags there: {', '.join(t for ts in tags for t in ts) or '(none)'}",
            )
        entry, name = found[0]
    label = name or where
    config_rel = str(entry.get("Config", ""))
    if config_rel not in members:
        raise UsageError(f"{where}: config {config_rel!r} is missing")
    config = reader.read(config_rel)
    config_digest = sha256_digest(config)
    stem = posixpath.basename(config_rel).removesuffix(".json")
    if len(stem) == 64 and "sha256:" + stem != config_digest:
        check_bytes(config, "sha256:" + stem, None, label, "config")
    try:
        diff_ids = list(json.loads(config)["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"image {label}: the config has no rootfs.diff_ids") from None
    layer_rels = [str(x) for x in entry.get("Layers") or []]
    if len(layer_rels) != len(diff_ids):
        raise UsageError(
            f"image {label}: {len(layer_rels)} layers but {len(diff_ids)} diff_ids in the config"
        )
    img = LocalImage(b"", MT_OCI_MANIFEST, "", name, reader, kind="docker-archive")
    layers = []
    for rel, diff_id in zip(layer_rels, diff_ids, strict=True):
        if rel not in members:
            raise UsageError(f"image {label}: layer {rel!r} is missing from the archive")
        with reader.open(rel) as f:
            head = f.read(2)
        compressed = head == _GZIP_MAGIC
        digest = _layer_digest(reader, rel, str(diff_id), compressed, label)
        img.blob_paths[digest] = rel
        layers.append({
            "mediaType": MT_OCI_LAYER_GZIP if compressed else MT_OCI_LAYER,
            "digest": digest,
            "size": reader.size(rel),
        })
    img.blob_paths[config_digest] = config_rel
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MT_OCI_MANIFEST,
            "config": {"mediaType": MT_OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": layers,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    img.top_data, img.top_digest = manifest, sha256_digest(manifest)
    img.generated[img.top_digest] = manifest
    return img


def _layer_digest(reader: BlobReader, rel: str, diff_id: str, gz: bool, image: str) -> str:
    """The layer's own digest; its uncompressed content must hash to ``diff_id``."""
    h = hashlib.sha256()
    raw = hashlib.sha256() if gz else h
    z = zlib.decompressobj(16 + zlib.MAX_WBITS) if gz else None
    with reader.open(rel) as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
            if z is not None:
                raw.update(z.decompress(chunk))
    if z is not None:
        raw.update(z.flush())
    digest = "sha256:" + h.hexdigest()
    uncompressed = "sha256:" + raw.hexdigest()
    if uncompressed != diff_id:
        raise BundleDigestMismatch(
            f"image {image}: layer {rel} hashes to {uncompressed}, but the config's diff_id "
            f"is {diff_id}; nothing was written",
            hint="the archive is damaged; save the image again (docker save / podman save)",
        )
    return digest


# --- the layout inside a bundle (verify, push) ----------------------------------------------

IMAGES_PREFIX = "images/"
BLOBS_PREFIX = "images/blobs/sha256/"
MAX_DOC_BYTES = 16 << 20  # a manifest or index (registries take 4 MiB)
MAX_DOC_DEPTH = 8  # indexes inside indexes
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class BundleImage:
    """One carried image as the bundle's layout holds it.

    Attributes:
        image: its ``images[]`` entry in the bundle manifest.
        manifests: (digest, bytes, media type) of every manifest and index, children
            before the index that names them, the image's own last (the order to push).
        blobs: config and layer digest -> size (bytes).
    """

    image: ImageRef
    manifests: list[tuple[str, bytes, str]] = field(default_factory=list)
    blobs: dict[str, int] = field(default_factory=dict)


@dataclass
class LayoutCheck:
    """Result of :func:`check_bundle_layout`.

    Attributes:
        images: every carried image, walked.
        problems: what is wrong, one error each (exit codes as in verify: 10 a blob named
            but not listed, 11 a listed file no image refers to, 12 a blob whose name is not
            its SHA-256, 13 a descriptor size that differs, 14 unreadable documents).
        unread: documents listed but not in the bundle (a delta's ``in_base``); what they
            name was not checked, and nothing was called extra.
    """

    images: list[BundleImage] = field(default_factory=list)
    problems: list[BundleError] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


def _doc_json(data: bytes, where: str) -> dict[str, Any]:
    doc = load_json(data, where, BundleImageLayoutError, max_bytes=MAX_DOC_BYTES)
    if not isinstance(doc, dict):
        raise BundleImageLayoutError(f"{where}: not a JSON object")
    return doc


def _descriptors(doc: dict[str, Any], key: str, where: str) -> list[tuple[str, int]]:
    """(digest, size) of ``doc[key]`` (a descriptor or a list of them), checked."""
    raw = doc.get(key)
    if key == "config" and raw is None:
        raise BundleImageLayoutError(f"{where}: an image manifest without config")
    items = [raw] if key == "config" else raw if raw is not None else []
    if not isinstance(items, list):
        raise BundleImageLayoutError(f"{where}: {key} is not a list of descriptors")
    out = []
    for d in items:
        digest = d.get("digest") if isinstance(d, dict) else None
        size = d.get("size") if isinstance(d, dict) else None
        if not isinstance(digest, str) or not _DIGEST_RE.match(digest):
            raise BundleImageLayoutError(
                f"{where}: a {key} descriptor's digest is not sha256:<64 lowercase hex>"
            )
        if type(size) is not int or size < 0:
            raise BundleImageLayoutError(f"{where}: descriptor {digest} has no valid size")
        out.append((digest, size))
    return out


def check_bundle_layout(manifest: Manifest, read: Callable[[str], bytes | None]) -> LayoutCheck:
    """Check the OCI image layout under ``images/`` against the bundle manifest.

    ``images/oci-layout`` is ``{"imageLayoutVersion": "1.0.0"}``; ``images/index.json``
    parses (bounded JSON) and names exactly the manifest's carried images; from each,
    recursively through image indexes, every manifest, index, config and layer it names
    is listed under ``images/blobs/sha256/<hex>`` with the size its descriptor gives, and
    every listed blob is named by its SHA-256 and used by some image (image-spec
    ``image-layout.md``, ``descriptor.md``). Reads only the small documents (index,
    manifests), each checked against its digest; layers are looked up in the manifest.

    Args:
        manifest: the bundle manifest (already validated).
        read: bundle path -> bytes, or None when the file is not in the bundle (a delta).

    Returns:
        The walked images (for pushing) and the problems found.
    """
    listed = {f.path: f for f in manifest.files if f.role == "images"}
    carried = [i for i in manifest.images if i.carried]
    result = LayoutCheck()
    in_layout = [p for p in listed if p != f"{IMAGES_PREFIX}images.txt"]
    if not carried and not in_layout:
        return result
    problems = result.problems
    used = {f"{IMAGES_PREFIX}{LAYOUT_FILE}", f"{IMAGES_PREFIX}{INDEX_FILE}",
            f"{IMAGES_PREFIX}images.txt"}

    def fetch(path: str, what: str) -> bytes | None:
        if path not in listed:
            problems.append(BundleMissingFile(
                f"{path} is missing: {what} names it, but the bundle manifest does not list it"
            ))
            return None
        if listed[path].size > MAX_DOC_BYTES:
            problems.append(BundleImageLayoutError(
                f"{path} ({what}) is {listed[path].size} bytes, too large for a manifest"
            ))
            return None
        data = read(path)
        if data is None:
            result.unread.append(path)
        return data

    for path, f in listed.items():  # blobs are content-addressed: the name is the SHA-256
        if path.startswith(BLOBS_PREFIX):
            name = path[len(BLOBS_PREFIX):]
            if _HEX_RE.match(name) and f.sha256 != name:
                problems.append(BundleDigestMismatch(
                    f"{path} has SHA-256 {f.sha256[:16]}…: a blob must hash to its name"
                ))
    tops: dict[str, int | None] = {i.digest: None for i in carried if i.digest}
    try:
        layout = fetch(f"{IMAGES_PREFIX}{LAYOUT_FILE}", "the OCI layout")
        if layout is not None:
            doc = _doc_json(layout, f"{IMAGES_PREFIX}{LAYOUT_FILE}")
            if doc.get("imageLayoutVersion") != "1.0.0":
                raise BundleImageLayoutError(
                    f"{IMAGES_PREFIX}{LAYOUT_FILE}: imageLayoutVersion is not \"1.0.0\""
                )
        raw_index = fetch(f"{IMAGES_PREFIX}{INDEX_FILE}", "the OCI layout")
        if raw_index is not None:
            where = f"{IMAGES_PREFIX}{INDEX_FILE}"
            entries = _descriptors(_doc_json(raw_index, where), "manifests", where)
            for digest, size in entries:
                if digest not in tops:
                    raise BundleImageLayoutError(
                        f"{where} names image {digest}, which the bundle manifest's images[] "
                        "does not list"
                    )
                tops[digest] = size
            named = {d for d, _ in entries}
            for i in carried:
                if i.digest not in named:
                    raise BundleImageLayoutError(
                        f"image {i.ref} is in the bundle manifest but not in {where}"
                    )
    except BundleError as exc:
        problems.append(exc)
        return result

    def walk(img: BundleImage, digest: str, size: int | None, what: str, depth: int) -> None:
        path = BLOBS_PREFIX + digest.removeprefix("sha256:")
        used.add(path)
        f = listed.get(path)
        if f is not None and size is not None and f.size != size:
            problems.append(BundleSizeMismatch(
                f"{path} is {f.size} bytes, but {what} says {size} ({img.image.ref})"
            ))
            return
        data = fetch(path, f"{what} of image {img.image.ref}")
        if data is None:
            return
        if sha256_digest(data) != digest:
            raise BundleDigestMismatch(f"{path} does not hash to its name ({img.image.ref})")
        where = f"{img.image.ref}@{digest}"
        doc = _doc_json(data, where)
        if doc.get("schemaVersion") != 2:
            raise BundleImageLayoutError(f"{where}: not an image manifest or index (schemaVersion 2)")
        mt = doc.get("mediaType") or (MT_OCI_INDEX if "manifests" in doc else MT_OCI_MANIFEST)
        if mt in INDEX_TYPES:
            if depth >= MAX_DOC_DEPTH:
                raise BundleImageLayoutError(f"{where}: indexes nested deeper than {MAX_DOC_DEPTH}")
            for child, child_size in _descriptors(doc, "manifests", where):
                walk(img, child, child_size, f"index {digest}", depth + 1)
        elif mt in MANIFEST_TYPES:
            for key in ("config", "layers"):
                for blob, blob_size in _descriptors(doc, key, where):
                    bpath = BLOBS_PREFIX + blob.removeprefix("sha256:")
                    used.add(bpath)
                    img.blobs[blob] = blob_size
                    if bpath not in listed:
                        problems.append(BundleMissingFile(
                            f"{bpath} is missing: image {img.image.ref} names it as a {key} "
                            f"blob, but the bundle manifest does not list it"
                        ))
                    elif listed[bpath].size != blob_size:
                        problems.append(BundleSizeMismatch(
                            f"{bpath} is {listed[bpath].size} bytes, but image {img.image.ref} "
                            f"says {blob_size} for that {key} blob"
                        ))
        else:
            raise BundleImageLayoutError(f"{where}: unsupported media type {show(str(mt))}")
        if all(d != digest for d, _, _ in img.manifests):
            img.manifests.append((digest, data, str(mt)))

    for i in carried:
        if i.digest is None:
            problems.append(BundleImageLayoutError(f"image {i.ref} is carried but has no digest"))
            continue
        img = BundleImage(i)
        try:
            walk(img, i.digest, tops.get(i.digest), f"{IMAGES_PREFIX}{INDEX_FILE}", 0)
        except BundleError as exc:
            problems.append(exc)
            return result  # what it names is unknown: no "extra" verdicts
        result.images.append(img)
    if not result.unread:
        for path in sorted(set(listed) - used):
            problems.append(BundleExtraFile(
                f"{path} is listed in the bundle manifest, but no image in "
                f"{IMAGES_PREFIX}{INDEX_FILE} refers to it"
            ))
    return result


def layout_index(entries: list[dict[str, Any]]) -> bytes:
    """``index.json`` of a layout holding ``entries`` (descriptor dicts), keys sorted."""
    doc = {"schemaVersion": 2, "mediaType": MT_OCI_INDEX, "manifests": entries}
    return (json.dumps(doc, sort_keys=True, indent=2) + "\n").encode()


__all__ = [
    "INDEX_FILE",
    "LAYOUT_BYTES",
    "LAYOUT_FILE",
    "MT_DOCKER_LIST",
    "MT_DOCKER_MANIFEST",
    "MT_OCI_CONFIG",
    "MT_OCI_LAYER",
    "MT_OCI_LAYER_GZIP",
    "REF_NAME",
    "BlobReader",
    "BundleImage",
    "Descriptor",
    "LayoutCheck",
    "LocalImage",
    "check_bundle_layout",
    "check_bytes",
    "hash_stream_check",
    "image_blobs",
    "index_entries",
    "layout_index",
    "open_docker_archive",
    "open_oci_dir",
    "parse_doc",
    "platform_str",
]
