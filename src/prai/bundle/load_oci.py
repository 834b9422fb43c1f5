"""Push to an OCI registry as a KServe modelcar image (OCI Distribution Spec v1.1).

Layout (docs/bundle-format.md): an OCI image manifest
(``application/vnd.oci.image.manifest.v1+json``) whose config is an OCI image config
(``application/vnd.oci.image.config.v1+json``, linux/amd64, ``rootfs.diff_ids`` = layer
digests) and whose layers are uncompressed tars (``application/vnd.oci.image.layer.v1.tar``)
that unpack to ``/models/…``: every file of 1 MiB or more is its own layer (shards
deduplicate across versions and resume one by one); smaller files share one layer. Model
files sit directly in ``/models`` (``/models/config.json``), adapters in
``/models/adapters/NAME/``, so KServe's ``storageUri: oci://…`` mounts the model at
``/mnt/models``. Layer tars are deterministic (uid/gid 0, mode 0644/0755, mtime of the
bundle), so a second push finds every blob already there.

After the push the manifest is fetched back by digest and its SHA-256 compared, and every
blob is checked with HEAD (size and ``Docker-Content-Digest``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prai._http import http_client
from prai.errors import BundleLoadError, ConfigError, UsageError
from prai.settings import get_settings

from ._hashing import CHUNK_BYTES, NullProgress, ProgressSink
from ._loaded import LoadResult
from ._source import BundleSource
from .manifest import FileEntry, Manifest

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
OWN_LAYER_BYTES = 1 << 20
_REF = re.compile(
    r"^oci://(?P<host>[^/]+)/(?P<repo>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?$"
)


def image_path(entry: FileEntry) -> str:
    """Where a bundle file lands in the image: ``model/x`` -> ``models/x``, others
    ``models/<bundle path>``."""
    if entry.role == "model":
        return "models/" + entry.path.removeprefix("model/")
    return "models/" + entry.path


class _Layer:
    """A deterministic uncompressed tar of some bundle files, generated on the fly."""

    def __init__(self, src: BundleSource, entries: list[FileEntry], mtime: int) -> None:
        self.src = src
        self.entries = entries
        self.mtime = mtime
        self.digest = ""
        self.size = 0

    def _header(self, name: str, size: int, is_dir: bool) -> bytes:
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
        ti.size = 0 if is_dir else size
        ti.mode = 0o755 if is_dir else 0o644
        ti.mtime = self.mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti.tobuf(format=tarfile.PAX_FORMAT)

    def chunks(self) -> Iterator[bytes]:
        dirs: set[str] = set()
        for e in self.entries:
            path = image_path(e)
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                d = "/".join(parts[:i]) + "/"
                if d not in dirs:
                    dirs.add(d)
                    yield self._header(d, 0, True)
            yield self._header(path, e.size, False)
            with self.src.open(e.path) as f:
                while chunk := f.read(CHUNK_BYTES):
                    yield chunk
            if e.size % 512:
                yield b"\0" * (512 - e.size % 512)
        yield b"\0" * 1024

    def measure(self, sink: ProgressSink) -> None:
        h = hashlib.sha256()
        n = 0
        for c in self.chunks():
            h.update(c)
            n += len(c)
            sink.advance(len(c))
        self.digest, self.size = "sha256:" + h.hexdigest(), n


def _auth_from_file(path: Path, host: str) -> tuple[str, str] | None:
    try:
        auths = json.loads(path.read_text(encoding="utf-8")).get("auths", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise ConfigError(
            f"registry auth file {path}: unreadable ({exc.__class__.__name__})",
            hint="log in again (podman login) or fix the JSON",
        ) from None
    for k, v in auths.items():
        if k.removeprefix("https://").rstrip("/").split("/")[0] == host and v.get("auth"):
            user, _, pw = base64.b64decode(v["auth"]).decode().partition(":")
            return user, pw
    return None


class _Registry:
    """Minimal OCI distribution client over httpx: Basic and Bearer-token auth, TLS verified."""

    def __init__(
        self, host: str, repo: str, ca_bundle: str | Path | None, creds: tuple[str, str] | None
    ) -> None:
        ctx = ssl.create_default_context()  # the system store, plus the internal CA when given
        if ca_bundle is not None:
            if not Path(ca_bundle).is_file():
                raise ConfigError(f"--ca-bundle {ca_bundle}: no such file")
            ctx.load_verify_locations(cafile=str(ca_bundle))
        self.base = f"https://{host}"
        self.repo = repo
        self.creds = creds
        self.token: str | None = None
        self.http = http_client(verify=ctx, timeout_s=60.0, read_timeout_s=600.0, follow_redirects=True)

    def _auth_header(self) -> dict[str, str]:
        if self.token:
            return {"Authorization": f"Bearer {self.token}"}
        if self.creds:
            raw = base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
            return {"Authorization": f"Basic {raw}"}
        return {}

    def _login(self, challenge: str) -> None:
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            if not self.creds:
                raise BundleLoadError(
                    f"{self.base} needs a login",
                    hint="set PRAI_REGISTRY_USERNAME/PRAI_REGISTRY_PASSWORD or pass --authfile "
                    "(podman login writes one)",
                )
            return
        fields = dict(re.findall(r'(\w+)="([^"]*)"', params))
        query = {k: v for k, v in fields.items() if k in ("service", "scope")}
        resp = self.http.get(
            fields.get("realm", ""),
            params=query,
            headers=(
                {
                    "Authorization": "Basic "
                    + base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
                }
                if self.creds
                else {}
            ),
        )
        if resp.status_code != 200:
            raise BundleLoadError(
                f"registry token service refused the login ({resp.status_code})",
                hint="check the registry user and password",
            )
        body = resp.json()
        self.token = body.get("token") or body.get("access_token")

    def request(self, method: str, url: str, **kw: Any) -> Any:
        if url.startswith("/"):
            url = self.base + url
        headers = {**kw.pop("headers", {}), **self._auth_header()}
        resp = self.http.request(method, url, headers=headers, **kw)
        if resp.status_code == 401 and "content" not in kw:
            had = bool(self._auth_header())
            self._login(resp.headers.get("www-authenticate", "Basic"))
            if not had or self.token:
                headers = {**headers, **self._auth_header()}
                resp = self.http.request(method, url, headers=headers, **kw)
        if resp.status_code == 401:
            raise BundleLoadError(
                f"{self.base} refused the credentials (401)",
                hint="check the registry user and password",
            )
        if resp.status_code == 403:
            raise BundleLoadError(f"{self.base}: no permission to push to {self.repo} (403)")
        return resp

    def has_blob(self, digest: str, size: int) -> bool:
        r = self.request("HEAD", f"/v2/{self.repo}/blobs/{digest}")
        return bool(r.status_code == 200 and int(r.headers.get("content-length", -1)) == size)

    def push_blob(self, digest: str, size: int, body: Iterator[bytes] | bytes) -> None:
        r = self.request("POST", f"/v2/{self.repo}/blobs/uploads/")
        if r.status_code != 202:
            raise BundleLoadError(f"registry refused an upload ({r.status_code}: {r.text[:200]})")
        loc = r.headers["location"]
        sep = "&" if "?" in loc else "?"
        r = self.request(
            "PUT",
            f"{loc}{sep}digest={digest}",
            content=body,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
        )
        if r.status_code != 201:
            raise BundleLoadError(
                f"registry refused blob {digest} ({r.status_code}: {r.text[:200]})"
            )


def _translate(exc: Exception, host: str) -> BundleLoadError:
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc, ssl.SSLError):
        return BundleLoadError(
            f"TLS to {host} failed: the registry certificate is not trusted",
            hint="pass the internal CA with --ca-bundle ca.pem (seed §10); verification stays on",
        )
    return BundleLoadError(
        f"cannot talk to the registry {host}: {exc.__class__.__name__}",
        hint="check the host, port, DNS and proxy settings",
    )


_MT_INDEXES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_ACCEPT = ", ".join(
    (MT_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json", *_MT_INDEXES)
)
# Docker schema-2 layer types and their OCI equivalents (image-spec, "media-types.md")
_DOCKER_TO_OCI = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": MT_LAYER + "+gzip",
    "application/vnd.docker.image.rootfs.diff.tar": MT_LAYER,
}


@dataclass
class _Base:
    """A base image in the same registry: its layers (manifest descriptors) and config."""

    repo: str
    layers: list[dict[str, Any]]
    config: dict[str, Any]


def _fetch_base(reg: _Registry, ref: str) -> _Base:
    """Read ``repo[:tag|@digest]`` (linux/amd64 when it is an index) from ``reg``.

    Raises:
        BundleLoadError: not found, or not a linux/amd64 image.
    """
    repo, at, digest = ref.partition("@")
    if not at:
        repo, _, tag = ref.rpartition(":") if ":" in ref.split("/")[-1] else (ref, "", "latest")
        digest = tag
    for _ in range(2):
        r = reg.request("GET", f"/v2/{repo}/manifests/{digest}", headers={"Accept": _ACCEPT})
        if r.status_code != 200:
            raise BundleLoadError(
                f"--base-image {ref}: not found in {reg.base} ({r.status_code})",
                hint="mirror a small image with a shell (ubi-micro, busybox) into the same "
                "registry first (oc image mirror / skopeo copy)",
            )
        doc = r.json()
        if doc.get("mediaType") in _MT_INDEXES or "manifests" in doc:
            amd64 = [
                d
                for d in doc.get("manifests", [])
                if d.get("platform", {}).get("architecture") == "amd64"
                and d.get("platform", {}).get("os") == "linux"
            ]
            if not amd64:
                raise BundleLoadError(f"--base-image {ref}: no linux/amd64 image in the index")
            digest = amd64[0]["digest"]
            continue
        cfg = reg.request("GET", f"/v2/{repo}/blobs/{doc['config']['digest']}")
        if cfg.status_code != 200:
            raise BundleLoadError(f"--base-image {ref}: its config blob is missing")
        return _Base(repo, list(doc.get("layers", [])), cfg.json())
    raise BundleLoadError(f"--base-image {ref}: nested image indexes are not supported")


def _mount_base_layers(reg: _Registry, base: _Base) -> None:
    """Make the base layers available in the target repository (cross-repo mount)."""
    for layer in base.layers:
        if reg.has_blob(layer["digest"], layer["size"]):
            continue
        r = reg.request(
            "POST",
            f"/v2/{reg.repo}/blobs/uploads/?mount={layer['digest']}&from={base.repo}",
        )
        if r.status_code == 201:
            continue
        raise BundleLoadError(
            f"the registry did not mount base layer {layer['digest']} from {base.repo} "
            f"({r.status_code})",
            hint="push the model to the same registry as the base image, with pull rights on it",
        )


def load_to_oci(
    src: BundleSource,
    manifest: Manifest,
    root: str,
    files: list[FileEntry],
    to: str,
    *,
    ca_bundle: str | Path | None = None,
    authfile: str | Path | None = None,
    base_image: str | None = None,
    progress: ProgressSink | None = None,
) -> LoadResult:
    """Push ``files`` as a modelcar image to ``oci://host[:port]/repo[:tag]``.

    ``base_image`` (``repo[:tag|@sha256:…]`` in the same registry) puts the model layers
    on top of an image with a shell: KServe's modelcar sidecar runs ``sh`` in it. Without
    it the image holds only ``/models`` (enough for image volumes and for pulling).

    Raises:
        UsageError: malformed reference. ConfigError: bad CA or auth file.
        BundleLoadError: TLS, auth, refused uploads, or a read-back that differs.
    """
    import httpx

    sink = progress or NullProgress()
    t0 = time.monotonic()
    m = _REF.match(to)
    if not m:
        raise UsageError(
            f"--to {to!r} is not an OCI reference",
            hint="use oci://registry.example:5000/models/name:tag",
        )
    host, repo, tag = m["host"], m["repo"], m["tag"] or "latest"
    settings = get_settings()
    creds: tuple[str, str] | None = None
    if settings.registry_username:
        creds = (settings.registry_username, settings.registry_password or "")
    auth_path = Path(authfile) if authfile else settings.registry_authfile
    if creds is None and auth_path is not None:
        creds = _auth_from_file(auth_path, host)
    reg = _Registry(host, repo, ca_bundle, creds)
    mtime = int(manifest.created_at.timestamp())
    small = [f for f in files if f.size < OWN_LAYER_BYTES]
    layers = [_Layer(src, [f], mtime) for f in files if f.size >= OWN_LAYER_BYTES]
    if small:
        layers.insert(0, _Layer(src, small, mtime))
    result = LoadResult(destination=to, root_digest=root, files=len(files))
    try:
        sink.start("preparing layers", sum(f.size for f in files))
        for layer in layers:
            layer.measure(sink)
        todo = [ly for ly in layers if not reg.has_blob(ly.digest, ly.size)]
        sink.start("pushing", sum(ly.size for ly in todo))

        def counted(ly: _Layer) -> Iterator[bytes]:
            for c in ly.chunks():
                sink.advance(len(c))
                yield c

        for ly in todo:
            reg.push_blob(ly.digest, ly.size, counted(ly))
        result.written = sum(len(ly.entries) for ly in todo)
        result.skipped = len(files) - result.written
        result.bytes_written = sum(ly.size for ly in todo)
        base = _fetch_base(reg, base_image) if base_image else None
        if base is not None:
            _mount_base_layers(reg, base)
        labels = {"io.prai.bundle.root-digest": root}
        if manifest.model:
            labels["io.prai.model.name"] = manifest.model.name
        base_cfg = base.config if base is not None else {}
        run_cfg = dict(base_cfg.get("config") or {})
        run_cfg["Labels"] = {**(run_cfg.get("Labels") or {}), **labels}
        run_cfg.setdefault("WorkingDir", "/models")
        config = json.dumps(
            {
                "created": manifest.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "architecture": "amd64",
                "os": "linux",
                "config": run_cfg,
                "rootfs": {
                    "type": "layers",
                    "diff_ids": list(base_cfg.get("rootfs", {}).get("diff_ids", []))
                    + [ly.digest for ly in layers],
                },
                "history": list(base_cfg.get("history", []))
                + [{"created_by": "prai bundle load", "empty_layer": False} for _ in layers],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        if not reg.has_blob(config_digest, len(config)):
            reg.push_blob(config_digest, len(config), config)
        image = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [
                    {
                        "mediaType": _DOCKER_TO_OCI.get(bl["mediaType"], bl["mediaType"]),
                        "digest": bl["digest"],
                        "size": bl["size"],
                    }
                    for bl in (base.layers if base is not None else [])
                ]
                + [
                    {
                        "mediaType": MT_LAYER,
                        "digest": ly.digest,
                        "size": ly.size,
                        "annotations": {
                            "org.opencontainers.image.title": image_path(ly.entries[0])
                            if len(ly.entries) == 1
                            else "models (small files)"
                        },
                    }
                    for ly in layers
                ],
                "annotations": {
                    "org.opencontainers.image.created": manifest.created_at.strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "io.prai.bundle.root-digest": root,
                },
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        digest = "sha256:" + hashlib.sha256(image).hexdigest()
        r = reg.request(
            "PUT",
            f"/v2/{repo}/manifests/{tag}",
            content=image,
            headers={"Content-Type": MT_MANIFEST},
        )
        if r.status_code != 201:
            raise BundleLoadError(
                f"registry refused the manifest ({r.status_code}: {r.text[:300]})"
            )
        back = reg.request("GET", f"/v2/{repo}/manifests/{digest}", headers={"Accept": MT_MANIFEST})
        if (
            back.status_code != 200
            or "sha256:" + hashlib.sha256(back.content).hexdigest() != digest
        ):
            raise BundleLoadError(f"{host}/{repo}@{digest} does not read back as pushed")
        missing = [ly.digest for ly in layers if not reg.has_blob(ly.digest, ly.size)]
        if missing:
            raise BundleLoadError(f"layer {missing[0]} is not in {host}/{repo} after the push")
    except httpx.HTTPError as exc:
        raise _translate(exc, host) from None
    finally:
        reg.http.close()
    result.location = f"oci://{host}/{repo}@{digest}"
    result.details = {
        "base_image": base_image,
        "reference": f"{host}/{repo}:{tag}",
        "digest": digest,
        "layers": len(layers),
        "seconds": round(time.monotonic() - t0, 3),
    }
    return result
