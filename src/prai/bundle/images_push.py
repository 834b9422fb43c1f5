"""``prai bundle load --images-to REGISTRY[/PREFIX]``: push the carried images.

For every image in the bundle's ``images/`` layout (see :mod:`prai.bundle.images_carry`):

1. every blob (config, layers) is checked with ``HEAD`` in the target repository; present
   blobs are skipped, a blob already pushed to another repository in this run is mounted
   (``POST ?mount=&from=``), the rest is uploaded (chunked above ``chunk_bytes``, with
   retries; an :class:`~prai.bundle.registry.UploadState` file beside the mirror map lets
   a new run continue an upload cut off by Ctrl-C);
2. manifests go up byte for byte, children of an index first, each under its digest, then
   the image under its original tag;
3. everything is read back: each manifest by digest (its SHA-256 must be the digest; a
   manifest already there byte for byte is not stored again), the tag (must answer the
   same digest), each blob stored by this run (``HEAD``, size; present ones were just
   checked).

Target repository: ``PREFIX/<source path without the registry host>``
(``quay.io/modh/vllm`` -> ``registry.internal:5000/mirror/modh/vllm``), as oc-mirror does.

Outputs, written atomically once everything is in place:

* the mirror map (JSON; format ``prai-image-map`` v1, docs/bundle-format.md): per image
  ``source``, ``source_repository``, ``tag``, ``digest``, ``mirror_repository``,
  ``mirror`` (``mirror_repository@digest``), ``media_type``, ``platforms``,
  ``index_digest``; ``prai render --image-map`` reads it;
* an ``ImageDigestMirrorSet`` (``config.openshift.io/v1``; OpenShift's API reference)
  redirecting each source repository to its mirror, ``mirrorSourcePolicy:
  NeverContactSource``.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prai.errors import BundleDigestMismatch, BundleManifestError, ImageRegistryError, UsageError

from ._hashing import NullProgress, ProgressSink
from ._source import BundleSource
from .images_carry import IMAGES_DIR
from .manifest import ImageRef, Manifest
from .oci_layout import check_bundle_layout
from .registry import (
    DEFAULT_CHUNK_BYTES,
    Credentials,
    FetchedManifest,
    GracefulStop,
    RegistryClient,
    UploadState,
    resolve_credentials,
    split_repository,
)

MAP_FORMAT = "prai-image-map"
_TARGET = re.compile(
    r"^(?P<host>(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:]+\])(?::[0-9]+)?)"
    r"(?P<prefix>(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)/?$"
)


@dataclass
class MirroredImageEntry:
    """One line of the mirror map."""

    source: str
    source_repository: str
    tag: str | None
    digest: str
    mirror_repository: str
    mirror: str
    media_type: str | None
    platforms: list[str]
    index_digest: str | None


@dataclass
class ImagePushResult:
    """What a push did. Counts of blobs; sizes in bytes; time in seconds."""

    registry: str
    images: list[MirroredImageEntry] = field(default_factory=list)
    blobs_uploaded: int = 0
    blobs_mounted: int = 0
    blobs_present: int = 0
    bytes_uploaded: int = 0
    bytes_present: int = 0
    manifests_put: int = 0
    seconds: float = 0.0
    map_path: str = ""
    idms_path: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_target(to: str) -> tuple[str, str]:
    """``REGISTRY[:PORT][/PREFIX]`` -> (host, prefix without slashes; may be empty).

    Raises:
        UsageError: a scheme, a tag or digest, or characters a repository cannot hold.
    """
    m = _TARGET.match(to.strip())
    if not m or "://" in to:
        raise UsageError(
            f"--images-to {to!r} is not REGISTRY[:PORT][/PREFIX]",
            hint="e.g. --images-to registry.kitchen.internal:5000/mirror (no scheme, no tag)",
        )
    return m["host"], m["prefix"].strip("/")


def mirror_path(prefix: str, source_repository: str) -> str:
    """Repository path in the target registry: PREFIX + the source path without its host."""
    _, path = split_repository(source_repository)
    return f"{prefix}/{path}" if prefix else path


@dataclass
class _Plan:
    image: ImageRef
    repo: str  # path in the target registry
    manifests: list[tuple[str, bytes, str]]  # (digest, bytes, media type), children first
    blobs: dict[str, int]  # digest -> size


def _plan(src: BundleSource, manifest: Manifest, prefix: str) -> list[_Plan]:
    """What to push for each carried image: the layout as :func:`check_bundle_layout`
    walks it (the same check ``prai bundle verify`` runs).

    Raises:
        UsageError: the bundle carries no images. BundleError: the layout is incomplete or
        inconsistent (the first problem), or a document is not in the bundle (a delta).
    """
    carried = [i for i in manifest.images if i.carried]
    if not carried:
        raise UsageError(
            "--images-to: this bundle carries no container images",
            hint="create the bundle with --image REF (not --image-ref-only)",
        )
    layout = check_bundle_layout(manifest, lambda p: src.read_bytes(p) if p in src.entries else None)
    if layout.problems:
        raise layout.problems[0]
    if layout.unread:
        raise BundleManifestError(
            f"{layout.unread[0]} is not in the bundle, but the image layout refers to it",
            hint="push the images from the full bundle (a delta carries only what changed)",
        )
    return [
        _Plan(b.image, mirror_path(prefix, b.image.repository), b.manifests, b.blobs)
        for b in layout.images
    ]


def push_credentials(
    manifest: Manifest, to: str, *, authfile: str | Path | None = None
) -> Credentials | None:
    """The credentials a push of ``manifest``'s images to ``to`` uses (credential helpers
    run here), so a load can say that they are missing before it writes anything.

    Raises:
        UsageError: bad ``to``. ConfigError: auth file unreadable, a credential helper not
        installed or failing.
    """
    host, prefix = parse_target(to)
    carried = [i for i in manifest.images if i.carried]
    repo = mirror_path(prefix, carried[0].repository) if carried else None
    return resolve_credentials(host, repo, authfile=authfile)


class _Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.uploaded = self.mounted = self.present = 0
        self.bytes_uploaded = self.bytes_present = 0


def push_images(
    src: BundleSource,
    manifest: Manifest,
    root_digest: str,
    to: str,
    *,
    ca_bundle: str | Path | None = None,
    authfile: str | Path | None = None,
    map_out: str | Path = "prai-image-map.json",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    parallel: int = 4,
    progress: ProgressSink | None = None,
    stop: GracefulStop | None = None,
) -> ImagePushResult:
    """Push every carried image of a verified bundle to ``to`` (``REGISTRY[/PREFIX]``).

    Args:
        src, manifest, root_digest: the opened, verified bundle.
        map_out: mirror map path (JSON); the ImageDigestMirrorSet goes beside it
            (``NAME.idms.yaml``), and an unfinished upload's state in ``.NAME.uploads``.
        chunk_bytes: blobs larger than this go up in chunks of this size (bytes).
        parallel: blobs pushed at once.
        stop: Ctrl-C handling: a requested stop ends the push after the chunks in flight
            (PushInterrupted); the next run continues the cut-off uploads.

    Returns:
        counts, bytes, seconds, the image entries and the paths written.

    Raises:
        UsageError: bad target or a bundle without images. ConfigError: CA or auth file.
        ImageRegistryError: TLS, auth, refusals, or a registry that answers a different
            manifest digest than the bytes pushed.
        BundleManifestError: the bundle's image layout is inconsistent.
    """
    t0 = time.monotonic()
    sink = progress or NullProgress()
    host, prefix = parse_target(to)
    map_path = Path(map_out)
    if not map_path.parent.is_dir():
        raise UsageError(f"--image-map-out {map_path}: directory {map_path.parent} does not exist")
    idms_path = map_path.with_name(map_path.name.removesuffix(".json") + ".idms.yaml")
    plans = _plan(src, manifest, prefix)
    state = UploadState(map_path.with_name(f".{map_path.name}.uploads"))
    creds = push_credentials(manifest, to, authfile=authfile)
    result = ImagePushResult(registry=to)
    # Never more threads than pooled connections: httpcore 1.0.9's pool can close a
    # connection already handed to a waiting request (encode/httpcore#1110), which then
    # hangs until the read timeout.
    with RegistryClient(host, ca_bundle=ca_bundle, creds=creds,
                        max_connections=max(1, parallel)) as client:
        if stop is not None:
            stop.active = True
        try:
            counter = _push_blobs(client, src, plans, state, chunk_bytes, parallel, sink, stop)
        finally:
            if stop is not None:
                stop.active = False
        for p in plans:
            result.manifests_put += _push_manifests(client, p)
            result.images.append(_entry(host, p))
    result.blobs_uploaded, result.blobs_mounted = counter.uploaded, counter.mounted
    result.blobs_present = counter.present
    result.bytes_uploaded, result.bytes_present = counter.bytes_uploaded, counter.bytes_present
    _write_atomic(map_path, _map_json(result, root_digest))
    _write_atomic(idms_path, _idms_yaml(result, root_digest))
    result.map_path, result.idms_path = str(map_path), str(idms_path)
    result.seconds = round(time.monotonic() - t0, 3)
    return result


def _push_blobs(
    client: RegistryClient,
    src: BundleSource,
    plans: list[_Plan],
    state: UploadState,
    chunk_bytes: int,
    parallel: int,
    sink: ProgressSink,
    stop: GracefulStop | None,
) -> _Counter:
    """HEAD every (repository, blob); upload or mount what is missing; HEAD those again."""
    c = _Counter()
    repos_of: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    for p in plans:
        for digest, size in p.blobs.items():
            if p.repo not in repos_of.setdefault(digest, []):
                repos_of[digest].append(p.repo)
            sizes[digest] = size
    pairs = [(repo, d) for d, repos in repos_of.items() for repo in repos]
    # the first request alone: it settles auth (and plain HTTP on loopback) for the rest
    found = [client.blob_size(*pairs[0])] if pairs else []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        found += list(pool.map(lambda rd: client.blob_size(rd[0], rd[1]), pairs[1:]))
    present = {rd for rd, size in zip(pairs, found, strict=True) if size == sizes[rd[1]]}
    c.present = len(present)
    c.bytes_present = sum(sizes[d] for _, d in present)
    missing = {d for r, d in pairs if (r, d) not in present}
    sink.start("pushing images", sum(sizes[d] for d in missing))

    def one(digest: str) -> None:
        holder = next((r for r in repos_of[digest] if (r, digest) in present), None)
        for repo in repos_of[digest]:
            if (repo, digest) in present:
                continue
            if holder is not None and client.mount_blob(repo, digest, holder):
                with c.lock:
                    c.mounted += 1
                continue
            path = f"{IMAGES_DIR}/blobs/sha256/{digest.removeprefix('sha256:')}"
            sent = client.upload_blob(
                repo, digest, sizes[digest], lambda p=path: src.open(p),  # type: ignore[misc]
                chunk_bytes=chunk_bytes, on_bytes=sink.advance, state=state, stop=stop,
            )
            holder = repo
            with c.lock:
                c.uploaded += 1
                c.bytes_uploaded += sent

    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for _ in pool.map(one, sorted(missing, key=lambda d: -sizes[d])):
            pass
        # read-back of what this run stored (present blobs were just checked)
        stored = [rd for rd in pairs if rd not in present]
        for (repo, digest), have in zip(
            stored, pool.map(lambda rd: client.blob_size(rd[0], rd[1]), stored), strict=True
        ):
            if have != sizes[digest]:
                raise ImageRegistryError(
                    f"{client.host}/{repo}: blob {digest} is "
                    f"{'missing' if have is None else f'{have} bytes'} after the push "
                    f"(expected {sizes[digest]})"
                )
    return c


def _push_manifests(client: RegistryClient, p: _Plan) -> int:
    """Children, then the image by digest, then its tag; each read back. Returns the
    manifests stored (0 when all were there, byte for byte)."""
    put = 0
    for digest, data, mt in p.manifests:
        if _read_manifest(client, p.repo, digest) is None:
            client.put_manifest(p.repo, digest, data, mt)
            put += 1
            if _read_manifest(client, p.repo, digest) is None:
                raise ImageRegistryError(f"{client.host}/{p.repo}@{digest} is missing after "
                                         "the push")
    if p.image.tag:
        digest, data, mt = p.manifests[-1]
        if client.manifest_digest(p.repo, p.image.tag) != digest:
            client.put_manifest(p.repo, p.image.tag, data, mt)
            put += 1
            answered = client.manifest_digest(p.repo, p.image.tag)
            if answered != digest:
                raise ImageRegistryError(
                    f"{client.host}/{p.repo}:{p.image.tag} answers digest {answered}, but "
                    f"{digest} was pushed",
                    hint="the registry rewrote the manifest or another push moved the tag; "
                    "check the registry and push again",
                )
    return put


def _read_manifest(client: RegistryClient, repo: str, digest: str) -> FetchedManifest | None:
    """The manifest by digest, None when absent; its bytes must hash to the digest."""
    try:
        return client.find_manifest(repo, digest)
    except BundleDigestMismatch as exc:
        raise ImageRegistryError(
            f"{client.host}/{repo}@{digest}: the registry answers a different manifest "
            f"({exc.message})",
            hint="the registry rewrites manifests; pods pinned to the digest would not find "
            "the image. Use a registry that stores manifests byte for byte",
        ) from None


def _entry(host: str, p: _Plan) -> MirroredImageEntry:
    img = p.image
    assert img.digest is not None
    mirror_repo = f"{host}/{p.repo}"
    return MirroredImageEntry(
        source=img.ref,
        source_repository=img.repository,
        tag=img.tag,
        digest=img.digest,
        mirror_repository=mirror_repo,
        mirror=f"{mirror_repo}@{img.digest}",
        media_type=img.media_type,
        platforms=list(img.platforms),
        index_digest=img.index_digest,
    )


def _map_json(result: ImagePushResult, root_digest: str) -> bytes:
    doc = {
        "format": MAP_FORMAT,
        "format_version": 1,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "bundle_root_digest": root_digest,
        "registry": result.registry,
        "images": [asdict(e) for e in result.images],
    }
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _idms_yaml(result: ImagePushResult, root_digest: str) -> bytes:
    import yaml

    by_source: dict[str, set[str]] = {}
    for e in result.images:
        host, _ = split_repository(e.source_repository)
        if host == "localhost":  # a local name: nothing pulls it from a source
            continue
        by_source.setdefault(e.source_repository, set()).add(e.mirror_repository)
    doc = {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ImageDigestMirrorSet",
        "metadata": {
            "name": "prai-bundle-" + root_digest.removeprefix("sha256:")[:12],
            "labels": {"app.kubernetes.io/managed-by": "prai"},
        },
        "spec": {
            "imageDigestMirrors": [
                {"source": s, "mirrors": sorted(m), "mirrorSourcePolicy": "NeverContactSource"}
                for s, m in sorted(by_source.items())
            ]
        },
    }
    return yaml.safe_dump(doc, sort_keys=False).encode()


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def iter_mirror_refs(result: ImagePushResult) -> Iterator[str]:
    """``mirror@digest`` of every pushed image (for printing)."""
    for e in result.images:
        yield e.mirror


__all__ = [
    "MAP_FORMAT",
    "ImagePushResult",
    "MirroredImageEntry",
    "iter_mirror_refs",
    "mirror_path",
    "parse_target",
    "push_images",
]
