"""Container images inside the bundle (issue 14): two real Debian docker-registry instances
on 127.0.0.1 — a plain "connected side" one and the internal one (TLS from a CA made in the
test, htpasswd) — images written by hand as OCI layouts, skopeo as the independent client."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from prai.bundle import create_bundle, load_bundle, verify_bundle
from prai.bundle.images_carry import ImageCarryRequest
from prai.bundle.registry import Credentials, GracefulStop, RegistryClient, UploadState
from prai.errors import BundleDigestMismatch, ImageRegistryError, PushInterrupted, UsageError
from prai.settings import get_settings
from tests.bundle.bundle_fixtures import PKI, Registry
from tests.bundle.oci_fixtures import (
    Layout,
    PlainRegistry,
    build_docker_archive,
    registry_blob_file,
    sha,
    skopeo,
)


def _certs(tmp: Path, pki: PKI) -> Path:
    d = tmp / "certs"
    d.mkdir(exist_ok=True)
    shutil.copy(pki.ca_cert, d / "ca.crt")
    return d


def _raw(tmp: Path, registry: Registry, pki: PKI, ref: str) -> bytes:
    """`skopeo inspect --raw` on the internal registry: the manifest bytes as stored."""
    out = skopeo("inspect", "--raw", "--cert-dir", str(_certs(tmp, pki)),
                 "--creds", f"{registry.user}:{registry.password}", f"docker://{registry.host}/{ref}")
    return out.stdout.encode()


def _inspect(tmp: Path, registry: Registry, pki: PKI, ref: str, *extra: str) -> dict[str, Any]:
    out = skopeo("inspect", *extra, "--cert-dir", str(_certs(tmp, pki)),
                 "--creds", f"{registry.user}:{registry.password}", f"docker://{registry.host}/{ref}")
    return dict(json.loads(out.stdout))


def test_registry_images_create_verify_load(
    tmp_path: Path, minilm: Path, layout: Layout, connected: PlainRegistry, registry: Registry,
    pki: PKI, authfile: Path,
) -> None:
    app = f"{connected.host}/team/app@{layout.app.digest}"
    res = create_bundle(
        tmp_path / "b", model=minilm,
        carry=ImageCarryRequest([app, f"{connected.host}/team/multi:1"], allow_tag=True),
    )
    imgs = {i.repository.rsplit("/", 1)[-1]: i for i in res.manifest.images}
    assert imgs["app"].digest == layout.app.digest and imgs["app"].carried
    assert imgs["multi"].digest == layout.index_digest and imgs["multi"].tag == "1"
    assert imgs["multi"].platforms == ["linux/amd64", "linux/arm64"]
    assert any("resolved to " + layout.index_digest in w for w in res.warnings)
    b = tmp_path / "b"
    # manifests byte for byte; the shared base layer once; every blob in the manifest/SHA256SUMS
    assert (b / "images/blobs/sha256" / layout.app.digest[7:]).read_bytes() == layout.app.manifest
    assert (b / "images/blobs/sha256" / layout.index_digest[7:]).read_bytes() == layout.index
    blobs = {p.name for p in (b / "images/blobs/sha256").iterdir()}
    expected = {d[7:] for img in (layout.app, *layout.multi) for d in img.blobs()}
    assert blobs == expected | {layout.index_digest[7:]}
    listed = {f.path for f in res.manifest.files}
    assert {f"images/blobs/sha256/{h}" for h in blobs} | {"images/index.json",
                                                          "images/oci-layout"} <= listed
    sums = (b / "SHA256SUMS").read_text()
    assert all(f"{h}  images/blobs/sha256/{h}" in sums for h in blobs)
    assert verify_bundle(b).ok
    # the bundle's images/ is an OCI layout skopeo reads
    raw = skopeo("inspect", "--raw", f"oci:{b / 'images'}:{connected.host}/team/multi:1").stdout
    assert sha(raw.encode()) == layout.index_digest

    maps = tmp_path / "out" / "map.json"
    maps.parent.mkdir()
    loaded = load_bundle(b, None, images_to=f"{registry.host}/mirror", ca_bundle=pki.ca_cert,
                         authfile=authfile, image_map_out=maps)
    pushed = loaded.images
    # 8 distinct configs and layers; the shared base layer is mounted into the second repository
    assert pushed is not None and pushed["blobs_uploaded"] == 8
    assert pushed["blobs_mounted"] == 1 and pushed["blobs_present"] == 0
    # skopeo (an independent client) sees the same digests in the internal registry
    assert sha(_raw(tmp_path, registry, pki, f"mirror/team/app@{layout.app.digest}")) == \
        layout.app.digest
    assert sha(_raw(tmp_path, registry, pki, "mirror/team/multi:1")) == layout.index_digest
    for child in layout.multi:
        assert _raw(tmp_path, registry, pki, f"mirror/team/multi@{child.digest}") == child.manifest
    arm = _inspect(tmp_path, registry, pki, "mirror/team/multi:1", "--override-arch", "arm64")
    assert arm["Digest"] == layout.index_digest and arm["Architecture"] == "arm64"
    assert arm["Layers"] == [sha(x) for x in layout.multi[1].layers]
    # mirror map and ImageDigestMirrorSet
    m = json.loads(maps.read_text())
    assert m["format"] == "prai-image-map" and m["bundle_root_digest"] == res.root_digest
    by_src = {e["source_repository"]: e for e in m["images"]}
    e = by_src[f"{connected.host}/team/multi"]
    assert e["mirror"] == f"{registry.host}/mirror/team/multi@{layout.index_digest}"
    idms = yaml.safe_load((tmp_path / "out" / "map.idms.yaml").read_text())
    assert idms["kind"] == "ImageDigestMirrorSet"
    assert {"source": f"{connected.host}/team/app",
            "mirrors": [f"{registry.host}/mirror/team/app"],
            "mirrorSourcePolicy": "NeverContactSource"} in idms["spec"]["imageDigestMirrors"]
    from prai.deploy.validate import validate_document

    validate_document(idms, ("config.openshift.io/v1", "ImageDigestMirrorSet"), "idms.yaml",
                      k8s_version="1.31")
    # a second push finds every blob and manifest in place
    again = load_bundle(b, None, images_to=f"{registry.host}/mirror", ca_bundle=pki.ca_cert,
                        authfile=authfile, image_map_out=maps)
    assert again.images is not None
    assert again.images["blobs_uploaded"] == 0 and again.images["manifests_put"] == 0
    assert again.images["blobs_present"] == pushed["blobs_uploaded"] + pushed["blobs_mounted"]


def test_platform_narrowing(tmp_path: Path, minilm: Path, layout: Layout,
                            connected: PlainRegistry) -> None:
    res = create_bundle(
        tmp_path / "b", model=minilm,
        carry=ImageCarryRequest([f"{connected.host}/team/multi@{layout.index_digest}"],
                                platform="linux/arm64"),
    )
    arm = layout.multi[1]
    multi = res.manifest.images[0]
    assert multi.digest == arm.digest and multi.index_digest == layout.index_digest
    assert multi.platforms == ["linux/arm64"]
    blobs = {p.name for p in (tmp_path / "b/images/blobs/sha256").iterdir()}
    assert layout.multi[0].digest[7:] not in blobs and layout.index_digest[7:] not in blobs
    assert (tmp_path / "b/images/blobs/sha256" / arm.digest[7:]).read_bytes() == arm.manifest
    with pytest.raises(UsageError, match="has no linux/s390x image"):
        create_bundle(tmp_path / "c", model=minilm, carry=ImageCarryRequest(
            [f"{connected.host}/team/multi@{layout.index_digest}"], platform="linux/s390x"))
    # a single-platform image of another platform is refused too
    with pytest.raises(UsageError, match="is linux/amd64, not linux/arm64"):
        create_bundle(tmp_path / "d", model=minilm, carry=ImageCarryRequest(
            [f"{connected.host}/team/app@{layout.app.digest}"], platform="linux/arm64"))
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()
    assert not list(tmp_path.glob(".*partial"))


def test_local_layout_and_docker_archive_to_tar_bundle(
    tmp_path: Path, minilm: Path, layout: Layout, registry: Registry, pki: PKI, authfile: Path,
) -> None:
    archive = tmp_path / "saved.tar"
    facts = build_docker_archive(archive, "quay.io/corp/tool:2.0")
    res = create_bundle(
        tmp_path / "b.tar", model=minilm,
        carry=ImageCarryRequest([f"oci:{layout.path}:app-1=quay.io/corp/app:1.0",
                                 f"docker-archive:{archive}",
                                 f"oci:{layout.path}:multi-1"]),
    )
    app, tool, multi = res.manifest.images
    assert (app.ref, app.source) == (f"quay.io/corp/app:1.0@{layout.app.digest}", "oci-layout")
    assert tool.repository == "quay.io/corp/tool" and tool.tag == "2.0"
    assert tool.source == "docker-archive" and tool.platforms == ["linux/amd64"]
    assert multi.repository == "localhost/oci" and multi.digest == layout.index_digest
    assert any("=REPO:TAG" in w for w in res.warnings)
    assert verify_bundle(tmp_path / "b.tar").ok
    loaded = load_bundle(tmp_path / "b.tar", None, images_to=registry.host, ca_bundle=pki.ca_cert,
                         authfile=authfile, image_map_out=tmp_path / "map.json")
    assert loaded.images is not None
    assert sha(_raw(tmp_path, registry, pki, "corp/app:1.0")) == layout.app.digest
    assert sha(_raw(tmp_path, registry, pki, "oci:multi-1")) == layout.index_digest
    # the archive's image: a manifest written from its config and layer tars, unchanged
    raw = _raw(tmp_path, registry, pki, "corp/tool:2.0")
    assert sha(raw) == tool.digest
    doc = json.loads(raw)
    assert doc["config"]["digest"] == sha(facts["config"])
    assert [ly["digest"] for ly in doc["layers"]] == facts["diff_ids"]
    info = _inspect(tmp_path, registry, pki, "corp/tool:2.0")
    assert info["Digest"] == tool.digest and info["Os"] == "linux"


def test_tags_are_refused_unless_allowed(tmp_path: Path, minilm: Path,
                                         connected: PlainRegistry) -> None:
    with pytest.raises(UsageError, match="a tag is not a pinned image") as exc:
        create_bundle(tmp_path / "b", model=minilm,
                      carry=ImageCarryRequest([f"{connected.host}/team/app:1"]))
    assert "--allow-tag" in exc.value.hint
    with pytest.raises(UsageError, match="unsupported source"):
        create_bundle(tmp_path / "b", model=minilm,
                      carry=ImageCarryRequest(["containers-storage:foo"]))
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".*partial"))


def test_blob_not_matching_its_digest_names_image_and_blob(
    tmp_path: Path, minilm: Path, layout: Layout, connected: PlainRegistry,
) -> None:
    bad = tmp_path / "layout"
    shutil.copytree(layout.path, bad)
    layer = layout.app.layers[1]
    (bad / "blobs/sha256" / sha(layer)[7:]).write_bytes(layer[:-1] + bytes([layer[-1] ^ 1]))
    with pytest.raises(BundleDigestMismatch) as exc:
        create_bundle(tmp_path / "b", model=minilm,
                      carry=ImageCarryRequest([f"oci:{bad}:app-1=quay.io/corp/app:1"]))
    assert "image quay.io/corp/app:1" in exc.value.message and sha(layer) in exc.value.message
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".*partial"))
    # the same damage inside the source registry's storage
    victim = f"{connected.host}/team/app@{layout.app.digest}"
    stored = registry_blob_file(connected.storage, sha(layer))
    good = stored.read_bytes()
    try:
        stored.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
        with pytest.raises(BundleDigestMismatch) as exc:
            create_bundle(tmp_path / "c.tar", model=minilm, carry=ImageCarryRequest([victim]))
        assert f"image {connected.host}/team/app" in exc.value.message
        assert sha(layer) in exc.value.message
    finally:
        stored.write_bytes(good)
    assert not (tmp_path / "c.tar").exists() and not list(tmp_path.glob(".*partial"))
    # a damaged docker archive layer is caught by its diff_id
    archive = tmp_path / "saved.tar"
    build_docker_archive(archive, "quay.io/corp/tool:2.0")
    data = bytearray(archive.read_bytes())
    pos = data.find(b"dddddddd")
    data[pos] = ord("e")
    archive.write_bytes(bytes(data))
    with pytest.raises(BundleDigestMismatch, match=r"quay\.io/corp/tool:2\.0: layer .* diff_id"):
        create_bundle(tmp_path / "d", model=minilm,
                      carry=ImageCarryRequest([f"docker-archive:{archive}"]))


def test_verify_catches_a_changed_image_blob(tmp_path: Path, minilm: Path,
                                             layout: Layout) -> None:
    create_bundle(tmp_path / "b", model=minilm,
                  carry=ImageCarryRequest([f"oci:{layout.path}:app-1=quay.io/corp/app:1"]))
    blob = tmp_path / "b/images/blobs/sha256" / sha(layout.app.layers[0])[7:]
    data = blob.read_bytes()
    blob.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    report = verify_bundle(tmp_path / "b")
    bad = [f for f in report.files if f.status != "ok"]
    assert [(f.path, f.status) for f in bad] == [(str(blob.relative_to(tmp_path / "b")),
                                                  "corrupted")]


class _RewritingProxy(BaseHTTPRequestHandler):
    """A registry front that re-serialises manifests it serves (as some registries do) and
    can drop the first blob chunk; forwards everything else to the real registry."""

    upstream: str = ""
    ca: str = ""
    rewrite = True
    drop_patches = 0
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return None

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        cls = type(self)
        if self.command == "PATCH" and cls.drop_patches > 0:
            cls.drop_patches -= 1
            self.close_connection = True
            self.connection.close()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",
                                                                             "content-length")}
        with httpx.Client(verify=self.ca) as c:
            r = c.request(self.command, self.upstream + self.path, headers=headers, content=body)
        data = r.content
        out_headers = dict(r.headers)
        if cls.rewrite and "/manifests/" in self.path and r.status_code == 200 and data:
            data = json.dumps(json.loads(data), indent=1).encode()
            out_headers["docker-content-digest"] = sha(data)
        self.send_response(r.status_code)
        for k, v in out_headers.items():
            if k.lower() in ("content-length", "transfer-encoding", "connection",
                             "content-encoding"):
                continue
            if k.lower() == "location":
                v = v.replace(self.upstream, f"http://{self.headers['host']}")
            self.send_header(k, v)
        head = self.command == "HEAD"
        self.send_header("Content-Length",
                         out_headers.get("content-length", "0") if head else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _forward


@pytest.fixture
def proxy(registry: Registry, pki: PKI) -> Iterator[tuple[str, type[_RewritingProxy]]]:
    handler = type("Proxy", (_RewritingProxy,), {"upstream": f"https://{registry.host}",
                                                "ca": str(pki.ca_cert)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_registry_answering_another_digest_is_an_error(
    tmp_path: Path, minilm: Path, layout: Layout, registry: Registry, proxy: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host, handler = proxy
    monkeypatch.setenv("PRAI_REGISTRY_USERNAME", registry.user)
    monkeypatch.setenv("PRAI_REGISTRY_PASSWORD", registry.password)
    get_settings.cache_clear()
    create_bundle(tmp_path / "b", model=minilm,
                  carry=ImageCarryRequest([f"oci:{layout.path}:app-1=quay.io/corp/rw:1"]))
    with pytest.raises(ImageRegistryError, match="answers a different manifest") as exc:
        load_bundle(tmp_path / "b", None, images_to=f"{host}/rewrite",
                    image_map_out=tmp_path / "map.json")
    assert "byte for byte" in exc.value.hint and exc.value.exit_code == 19
    assert not (tmp_path / "map.json").exists()
    # a dropped chunk is retried where the registry stopped (chunks of 16 KiB)
    handler.rewrite, handler.drop_patches = False, 1
    res = load_bundle(tmp_path / "b", None, images_to=f"{host}/retry",
                      image_map_out=tmp_path / "map.json", chunk_bytes=16 << 10)
    assert res.images is not None and handler.drop_patches == 0
    get_settings.cache_clear()


def test_upload_resumes_after_interrupt(tmp_path: Path, registry: Registry, pki: PKI) -> None:
    """Ctrl-C during a chunked upload: the chunk in flight finishes, the state file keeps the
    session, and a new client (a new process) sends only the rest."""
    blob = os.urandom(5 << 20)
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    (tmp_path / "blob").write_bytes(blob)
    state_path = tmp_path / "uploads.json"
    creds = Credentials(registry.user, registry.password)
    stop = GracefulStop()
    stop.active = True
    read = [0]

    class CtrlCAfter3MiB(io.FileIO):
        def read(self, n: int | None = -1) -> bytes:
            read[0] += n or 0
            if read[0] >= 3 << 20:
                stop.request()  # what the CLI's SIGINT handler does
            return super().read(n)

    with RegistryClient(registry.host, ca_bundle=pki.ca_cert, creds=creds) as c, \
            pytest.raises(PushInterrupted):
        c.upload_blob("resume/x", digest, len(blob), lambda: CtrlCAfter3MiB(tmp_path / "blob"),
                      chunk_bytes=1 << 20, state=UploadState(state_path), stop=stop)
    held = list(json.loads(state_path.read_text())["uploads"].values())
    assert held[0]["offset"] == 3 << 20
    with RegistryClient(registry.host, ca_bundle=pki.ca_cert, creds=creds) as c:
        assert c.blob_size("resume/x", digest) is None
        sent = c.upload_blob("resume/x", digest, len(blob), lambda: open(tmp_path / "blob", "rb"),  # noqa: SIM115
                             chunk_bytes=1 << 20, state=UploadState(state_path))
        assert sent == 2 << 20
        assert c.blob_size("resume/x", digest) == len(blob)
    assert not state_path.exists()


def test_bearer_token_auth(tmp_path: Path, minilm: Path, layout: Layout, pki: PKI,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry behind a token service (Docker token spec): the client fetches a token per
    repository scope with the Basic credentials and pushes; a wrong password is one error."""
    from tests.bundle.oci_fixtures import start_token_registry

    d = tmp_path / "token-registry"
    d.mkdir()
    gen = start_token_registry(d, d, pki.server_cert, pki.server_key)
    reg = next(gen)
    try:
        create_bundle(tmp_path / "b", model=minilm,
                      carry=ImageCarryRequest([f"oci:{layout.path}:multi-1=quay.io/corp/multi:1"]))
        monkeypatch.setenv("PRAI_REGISTRY_USERNAME", reg.user)
        monkeypatch.setenv("PRAI_REGISTRY_PASSWORD", "wrong")
        get_settings.cache_clear()
        with pytest.raises(ImageRegistryError, match=r"token service .* refused the login"):
            load_bundle(tmp_path / "b", None, images_to=f"{reg.host}/m", ca_bundle=pki.ca_cert,
                        image_map_out=tmp_path / "map.json")
        monkeypatch.setenv("PRAI_REGISTRY_PASSWORD", reg.password)
        get_settings.cache_clear()
        res = load_bundle(tmp_path / "b", None, images_to=f"{reg.host}/m", ca_bundle=pki.ca_cert,
                          image_map_out=tmp_path / "map.json")
        assert res.images is not None and res.images["blobs_uploaded"] == 5
        assert any("repository:m/corp/multi:pull,push" in s for s in reg.tokens_issued)
        raw = skopeo("inspect", "--raw", "--cert-dir", str(_certs(tmp_path, pki)), "--creds",
                     f"{reg.user}:{reg.password}", f"docker://{reg.host}/m/corp/multi:1").stdout
        assert sha(raw.encode()) == layout.index_digest
    finally:
        get_settings.cache_clear()
        for _ in gen:
            pass


def test_delta_with_images_checks_the_layout_it_carries(
    tmp_path: Path, minilm: Path, layout: Layout,
) -> None:
    """A delta adds an image: its layout check reads what the delta carries and trusts the
    base for the rest (nothing called missing or extra); the loaded state verifies whole."""
    app = f"oci:{layout.path}:app-1=quay.io/corp/app:1"
    create_bundle(tmp_path / "full", model=minilm, carry=ImageCarryRequest([app]))
    dest = tmp_path / "pvc"
    load_bundle(tmp_path / "full", str(dest))
    delta = create_bundle(
        tmp_path / "delta", model=minilm, since=dest,
        carry=ImageCarryRequest([app, f"oci:{layout.path}:multi-1=quay.io/corp/multi:1"]),
    )
    assert delta.manifest.delta is not None
    in_base = set(delta.manifest.delta.in_base)
    assert f"images/blobs/sha256/{layout.app.digest[7:]}" in in_base  # the app's manifest: not carried
    assert "images/index.json" not in in_base  # a new image: a new index
    report = verify_bundle(tmp_path / "delta")
    assert report.ok, [str(p) for p in report.problems]
    load_bundle(tmp_path / "delta", str(dest))
    assert verify_bundle(dest).ok
    # the same delta with its new platform manifest taken out of the layout: named, refused
    child = layout.multi[0].digest[7:]
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "delta", broken)
    data = json.loads((broken / "prai-bundle.json").read_text())
    data["files"] = [f for f in data["files"] if f["path"] != f"images/blobs/sha256/{child}"]
    (broken / "prai-bundle.json").write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
    (broken / "SHA256SUMS").write_text("".join(
        f"{f['sha256']}  {f['path']}\n" for f in data["files"] if f["path"] not in in_base))
    (broken / f"images/blobs/sha256/{child}").unlink()
    report = verify_bundle(broken)
    assert report.exit_code == 10 and f"images/blobs/sha256/{child} is missing" in str(report.problems[0])
