"""Container images for the image tests, written by hand (no container engine needed):
OCI image layouts with a multi-layer image and a two-platform index, ``docker save``
archives, a plain-HTTP "connected side" registry, and skopeo helpers."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from prai.settings import get_settings
from tests._support.net import free_port, wait_port
from tests.bundle.bundle_fixtures import IN_CI, Registry

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed, deterministic layer tar."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, body in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(body), 0o644, 1700000000
            tf.addfile(ti, io.BytesIO(body))
    return raw.getvalue()


@dataclass
class Image:
    """One image manifest with its blobs."""

    manifest: bytes
    config: bytes
    layers: list[bytes]  # compressed blobs
    diff_ids: list[str]
    platform: str

    @property
    def digest(self) -> str:
        return sha(self.manifest)

    def blobs(self) -> dict[str, bytes]:
        return {sha(b): b for b in [self.config, self.manifest, *self.layers]}


def make_image(platform: str, layer_files: list[dict[str, bytes]]) -> Image:
    os_, arch = platform.split("/")[:2]
    raws = [layer_tar(f) for f in layer_files]
    layers = [gzip.compress(r, mtime=0) for r in raws]
    diff_ids = [sha(r) for r in raws]
    config = json.dumps(
        {
            "architecture": arch,
            "os": os_,
            "config": {"Env": ["PATH=/usr/bin"], "Cmd": ["/bin/app"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "prai test"} for _ in layers],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": sha(config), "size": len(config)},
            "layers": [
                {"mediaType": MT_LAYER_GZ, "digest": sha(b), "size": len(b)} for b in layers
            ],
        },
        indent=3,  # deliberately not canonical: the digest must survive byte for byte
    ).encode()
    return Image(manifest, config, layers, diff_ids, platform)


def make_index(images: list[Image]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MT_INDEX,
            "manifests": [
                {
                    "mediaType": MT_MANIFEST,
                    "digest": i.digest,
                    "size": len(i.manifest),
                    "platform": {
                        "os": i.platform.split("/")[0],
                        "architecture": i.platform.split("/")[1],
                    },
                }
                for i in images
            ],
        }
    ).encode()


@dataclass
class Layout:
    """An OCI layout on disk and what it holds."""

    path: Path
    app: Image  # linux/amd64, three layers (one shared with the index's images)
    multi: list[Image]  # linux/amd64 + linux/arm64
    index: bytes
    refs: dict[str, str] = field(default_factory=dict)  # ref.name -> digest

    @property
    def index_digest(self) -> str:
        return sha(self.index)


BASE_FILES = {"etc/os-release": b"ID=prai-test\n" * 50}


def build_layout(path: Path, layer_bytes: int = 40_000) -> Layout:
    """``app:1`` (three layers) and ``multi:1`` (an index of amd64 and arm64) in one layout;
    the base layer is shared by all three images."""
    filler = random.Random(0).randbytes(layer_bytes)  # incompressible: a real 40 kB layer
    app = make_image(
        "linux/amd64",
        [BASE_FILES, {"bin/app": b"#!app\n" + filler}, {"etc/app.conf": b"x=1\n"}],
    )
    amd = make_image("linux/amd64", [BASE_FILES, {"bin/multi": b"amd64\n" + filler[:1000]}])
    arm = make_image("linux/arm64", [BASE_FILES, {"bin/multi": b"arm64\n" + filler[:1000]}])
    index = make_index([amd, arm])
    blobs: dict[str, bytes] = {}
    for img in (app, amd, arm):
        blobs |= img.blobs()
    blobs[sha(index)] = index
    (path / "blobs/sha256").mkdir(parents=True)
    for d, b in blobs.items():
        (path / "blobs/sha256" / d.removeprefix("sha256:")).write_bytes(b)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entries = [
        {
            "mediaType": MT_MANIFEST,
            "digest": app.digest,
            "size": len(app.manifest),
            "annotations": {"org.opencontainers.image.ref.name": "app-1"},
        },
        {
            "mediaType": MT_INDEX,
            "digest": sha(index),
            "size": len(index),
            "annotations": {"org.opencontainers.image.ref.name": "multi-1"},
        },
    ]
    (path / "index.json").write_text(
        json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries})
    )
    return Layout(path, app, [amd, arm], index, {"app-1": app.digest, "multi-1": sha(index)})


def build_docker_archive(path: Path, repo_tag: str, layer_bytes: int = 30_000) -> dict[str, Any]:
    """A legacy ``docker save`` archive (manifest.json, <hex>.json, <id>/layer.tar)."""
    raws = [layer_tar(BASE_FILES), layer_tar({"srv/data": b"d" * layer_bytes})]
    diff_ids = [sha(r) for r in raws]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/srv/run"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
    ).encode()
    cfg_name = sha(config).removeprefix("sha256:") + ".json"
    layer_names = [f"{d.removeprefix('sha256:')[:12]}/layer.tar" for d in diff_ids]
    manifest = json.dumps(
        [{"Config": cfg_name, "RepoTags": [repo_tag], "Layers": layer_names}]
    ).encode()
    with tarfile.open(path, "w") as tf:
        for name, body in [(cfg_name, config), *zip(layer_names, raws, strict=True),
                           ("manifest.json", manifest)]:
            ti = tarfile.TarInfo(name)
            ti.size = len(body)
            tf.addfile(ti, io.BytesIO(body))
    return {"config": config, "layers": raws, "diff_ids": diff_ids}


# --- servers and tools -----------------------------------------------------------------


def need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        if IN_CI:
            pytest.fail(f"{tool} is not installed; .ci/run installs it")
        pytest.skip(f"{tool} is not installed (apt-get install {tool})")
    return exe


@dataclass
class PlainRegistry:
    host: str
    storage: Path


def start_plain_registry(d: Path) -> Iterator[PlainRegistry]:
    """Debian's docker-registry over plain HTTP on 127.0.0.1, no auth (the connected side)."""
    exe = shutil.which("docker-registry") or need("docker-registry")
    port = free_port()
    (d / "config.yml").write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {d / "data"}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: test-secret
""")
    log = open(d / "registry.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([exe, "serve", str(d / "config.yml")], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc=proc, what="docker-registry")
        yield PlainRegistry(f"127.0.0.1:{port}", d / "data")
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [need("skopeo"), "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out


def registry_blob_file(storage: Path, digest: str) -> Path:
    """Where docker-registry's filesystem driver keeps a blob."""
    hex_ = digest.removeprefix("sha256:")
    return storage / "docker/registry/v2/blobs/sha256" / hex_[:2] / hex_ / "data"


# --- fixtures (imported by conftest.py) ---------------------------------------------------


@pytest.fixture(scope="session")
def connected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlainRegistry]:
    yield from start_plain_registry(tmp_path_factory.mktemp("connected"))


@pytest.fixture(scope="session")
def layout(tmp_path_factory: pytest.TempPathFactory, connected: PlainRegistry) -> Layout:
    """The hand-written layout, also put into the connected registry with skopeo."""
    lay = build_layout(tmp_path_factory.mktemp("layout") / "oci")
    skopeo("copy", "--preserve-digests", "--dest-tls-verify=false",
           f"oci:{lay.path}:app-1", f"docker://{connected.host}/team/app:1")
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false",
           f"oci:{lay.path}:multi-1", f"docker://{connected.host}/team/multi:1")
    return lay


@pytest.fixture
def authfile(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A containers-auth.json for the internal registry (as `podman login` writes it)."""
    for k in ("PRAI_REGISTRY_USERNAME", "PRAI_REGISTRY_PASSWORD", "REGISTRY_AUTH_FILE",
              "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker"))
    get_settings.cache_clear()
    f = tmp_path / "auth.json"
    token = base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
    f.write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    yield f
    get_settings.cache_clear()


# --- a registry with Docker token auth ----------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class TokenRegistry:
    host: str
    user: str
    password: str
    tokens_issued: list[str]
    refresh_token: str = ""  # the identity token `docker login` would have stored
    grants: list[str] = field(default_factory=list)  # "POST refresh_token", "GET basic", …
    post_status: list[int] = field(default_factory=list)  # [404]: the POST is not served


def start_token_registry(d: Path, pki_dir: Path, server_cert: Path, server_key: Path,
                         ) -> Iterator[TokenRegistry]:
    """docker-registry with ``auth: token`` (TLS from the test PKI) and a small token service
    on 127.0.0.1 that signs ES256 JWTs with an ``x5c`` header (the Docker registry token
    spec); the registry trusts that signing certificate. The service answers ``GET`` with
    Basic credentials (the user and password, or an empty user and the refresh token, as
    GCR takes identity tokens) and the OAuth2 ``POST`` of distribution's ``oauth.md``
    (``grant_type=refresh_token`` or ``password``)."""
    import threading
    import time as _time
    from datetime import UTC, datetime, timedelta
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlsplit

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prai test token signer")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (d / "token-root.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    user, password = "token-user", "token-pw"
    refresh = "prai-refresh-" + os.urandom(12).hex()
    issued: list[str] = []
    grants: list[str] = []
    post_status: list[int] = []

    def sign(claims: dict[str, object]) -> str:
        header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
        body = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        r, s = decode_dss_signature(key.sign(body.encode(), ec.ECDSA(hashes.SHA256())))
        return body + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    class TokenService(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return None

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _issue(self, service: str, scopes: list[str], key: str) -> None:
            access = []
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                repo, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": repo, "actions": actions.split(",")})
            t = int(_time.time())
            token = sign({"iss": "prai-test-issuer", "sub": user, "aud": service,
                          "exp": t + 300, "nbf": t - 10, "iat": t, "jti": os.urandom(8).hex(),
                          "access": access})
            issued.append(",".join(scopes))
            body: dict[str, object] = {key: token, "expires_in": 300}
            if key == "access_token":
                body |= {"scope": " ".join(scopes), "refresh_token": refresh}
            self._answer(200, body)

        def do_GET(self) -> None:
            basic = {"Basic " + base64.b64encode(f"{u}:{p}".encode()).decode(): kind
                     for u, p, kind in ((user, password, "basic"), ("", refresh, "refresh"))}
            kind = basic.get(self.headers.get("authorization", ""))
            grants.append(f"GET {kind or 'refused'}")
            if kind is None:
                self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                return
            q = parse_qs(urlsplit(self.path).query)
            self._issue(q["service"][0], q.get("scope", []), "token")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if post_status:  # a token service that takes no POST (GCR: 404)
                grants.append(f"POST {post_status[0]}")
                self._answer(post_status[0], {})
                return
            grant = form.get("grant_type", "")
            ok = (grant == "refresh_token" and form.get("refresh_token") == refresh) or (
                grant == "password" and (form.get("username"), form.get("password")) == (
                    user, password))
            grants.append(f"POST {grant}" + ("" if ok else " refused"))
            if not ok or not form.get("client_id"):
                self._answer(400, {"error": "invalid_grant"})
                return
            self._issue(form["service"], form.get("scope", "").split(), "access_token")

    tokens = ThreadingHTTPServer(("127.0.0.1", 0), TokenService)
    threading.Thread(target=tokens.serve_forever, daemon=True).start()
    exe = shutil.which("docker-registry") or need("docker-registry")
    port = free_port()
    (d / "config.yml").write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {d / "data"}
http:
  addr: 127.0.0.1:{port}
  secret: test-secret
  tls:
    certificate: {server_cert}
    key: {server_key}
auth:
  token:
    realm: http://127.0.0.1:{tokens.server_address[1]}/token
    service: prai-test-registry
    issuer: prai-test-issuer
    rootcertbundle: {d / "token-root.pem"}
""")
    log = open(d / "registry.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([exe, "serve", str(d / "config.yml")], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc=proc, what="docker-registry (token auth)")
        yield TokenRegistry(f"127.0.0.1:{port}", user, password, issued, refresh, grants,
                            post_status)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
        tokens.shutdown()
        tokens.server_close()


# --- nested indexes (an index of indexes, attestation manifests) --------------------------


@dataclass
class NestedLayout:
    """``nested-1``: an index of two indexes, three levels deep, in an OCI layout.

    ``top`` -> [``inner`` (amd64, arm64 and an attestation manifest for amd64, as
    ``docker buildx --attest`` writes them), ``second`` (ppc64le and ``deep``)];
    ``deep`` -> [s390x]. Every manifest and index is written with its own spacing."""

    path: Path
    top: bytes
    inner: bytes
    second: bytes
    deep: bytes
    images: dict[str, Image]  # platform -> image; "attestation" -> the attestation manifest

    def docs(self) -> dict[str, bytes]:
        """digest -> bytes of every manifest and index below (and with) the top."""
        out = {sha(d): d for d in (self.top, self.inner, self.second, self.deep)}
        out |= {i.digest: i.manifest for i in self.images.values()}
        return out


def _entry(mt: str, data: bytes, platform: str | None = None,
           annotations: dict[str, str] | None = None) -> dict[str, Any]:
    e: dict[str, Any] = {"mediaType": mt, "digest": sha(data), "size": len(data)}
    if platform:
        os_, arch = platform.split("/")[:2]
        e["platform"] = {"os": os_, "architecture": arch}
    if annotations:
        e["annotations"] = annotations
    return e


def _index(entries: list[dict[str, Any]], indent: int | None) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": entries},
                      indent=indent).encode()


def make_attestation(subject: Image) -> Image:
    """An in-toto attestation manifest for ``subject`` (platform unknown/unknown)."""
    statement = json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
                            "subject": [{"name": "app", "digest": {"sha256": subject.digest[7:]}}],
                            "predicateType": "https://slsa.dev/provenance/v0.2",
                            "predicate": {"builder": {"id": "prai-test"}}}).encode()
    config = json.dumps({"architecture": "unknown", "os": "unknown", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [sha(statement)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": sha(statement),
                    "size": len(statement),
                    "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
    }).encode()
    return Image(manifest, config, [statement], [sha(statement)], "unknown/unknown")


def build_nested_layout(path: Path) -> NestedLayout:
    """Write :class:`NestedLayout` to ``path`` (a new OCI layout directory)."""
    imgs = {p: make_image(p, [BASE_FILES, {"bin/nested": f"{p}\n".encode() * 300}])
            for p in ("linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x")}
    att = make_attestation(imgs["linux/amd64"])
    imgs["attestation"] = att
    deep = _index([_entry(MT_MANIFEST, imgs["linux/s390x"].manifest, "linux/s390x")], 1)
    inner = _index([
        _entry(MT_MANIFEST, imgs["linux/amd64"].manifest, "linux/amd64"),
        _entry(MT_MANIFEST, imgs["linux/arm64"].manifest, "linux/arm64"),
        _entry(MT_MANIFEST, att.manifest, "unknown/unknown", {
            "vnd.docker.reference.digest": imgs["linux/amd64"].digest,
            "vnd.docker.reference.type": "attestation-manifest"}),
    ], 2)
    second = _index([_entry(MT_MANIFEST, imgs["linux/ppc64le"].manifest, "linux/ppc64le"),
                     _entry(MT_INDEX, deep)], None)
    top = _index([_entry(MT_INDEX, inner), _entry(MT_INDEX, second)], 4)
    blobs: dict[str, bytes] = {}
    for img in imgs.values():
        blobs |= img.blobs()
    for doc in (top, inner, second, deep):
        blobs[sha(doc)] = doc
    (path / "blobs/sha256").mkdir(parents=True)
    for d, b in blobs.items():
        (path / "blobs/sha256" / d.removeprefix("sha256:")).write_bytes(b)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    ref = "org.opencontainers.image.ref.name"
    (path / "index.json").write_text(json.dumps({
        "schemaVersion": 2, "mediaType": MT_INDEX,
        "manifests": [_entry(MT_INDEX, top, None, {ref: "nested-1"}),
                      _entry(MT_INDEX, inner, None, {ref: "nested-inner"}),
                      _entry(MT_INDEX, deep, None, {ref: "nested-deep"}),
                      _entry(MT_MANIFEST, imgs["linux/ppc64le"].manifest, None,
                             {ref: "nested-ppc64le"})]}))
    return NestedLayout(path, top, inner, second, deep, imgs)


def put_nested(lay: NestedLayout, host: str, repo: str, tag: str, *, ca: Path | None = None,
               creds: tuple[str, str] | None = None) -> None:
    """Put ``lay`` into the registry ``host`` as ``repo:tag``, digests preserved (plain HTTP,
    or TLS trusting ``ca`` with basic-auth ``creds``).

    skopeo 1.9 copies every image and flat index (``--all --preserve-digests``) but refuses
    an index inside an index ("Unexpectedly received a manifest list"), so the two indexes
    of indexes go up with a plain ``PUT /v2/REPO/manifests/DIGEST`` (distribution spec),
    children first, as the registry requires."""
    tls = ["--dest-tls-verify=false"]
    if ca is not None:
        certs = lay.path.parent / f"certs-{host.replace(':', '_')}"
        certs.mkdir(exist_ok=True)
        (certs / "ca.crt").write_bytes(ca.read_bytes())
        tls = ["--dest-cert-dir", str(certs)]
    if creds is not None:
        tls += ["--dest-creds", f"{creds[0]}:{creds[1]}"]
    for name in ("nested-deep", "nested-inner", "nested-ppc64le"):
        skopeo("copy", "--all", "--preserve-digests", *tls,
               f"oci:{lay.path}:{name}", f"docker://{host}/{repo}:{name}")
    put_index(host, repo, sha(lay.second), lay.second, ca=ca, creds=creds)
    put_index(host, repo, sha(lay.top), lay.top, ca=ca, creds=creds)
    put_index(host, repo, tag, lay.top, ca=ca, creds=creds)


def put_index(host: str, repo: str, ref: str, doc: bytes, *, ca: Path | None = None,
              creds: tuple[str, str] | None = None) -> str:
    """``PUT /v2/REPO/manifests/REF`` of an image index (its children must be there);
    returns its digest."""
    import httpx

    scheme = "https" if ca is not None else "http"
    r = httpx.put(f"{scheme}://{host}/v2/{repo}/manifests/{ref}", content=doc,
                  headers={"Content-Type": MT_INDEX}, timeout=30,
                  verify=str(ca) if ca is not None else True, auth=creds)
    assert r.status_code == 201, r.text
    assert r.headers["docker-content-digest"] == sha(doc)
    return sha(doc)


@pytest.fixture(scope="session")
def nested(tmp_path_factory: pytest.TempPathFactory, connected: PlainRegistry) -> NestedLayout:
    """The nested layout, also in the connected registry as ``team/nested:1``."""
    lay = build_nested_layout(tmp_path_factory.mktemp("nested") / "oci")
    put_nested(lay, connected.host, "team/nested", "1")
    return lay
