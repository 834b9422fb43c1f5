"""Nested image indexes inside the bundle (issue 14): an index of indexes, three levels deep,
with a buildx-style attestation manifest, put into a real Debian docker-registry; carried
whole (every level byte for byte, digests kept) or narrowed with --platform; verify walks
every level; --images-to pushes children before parents and skopeo reads the same digests
back from the internal registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from prai.bundle import create_bundle, load_bundle, verify_bundle
from prai.bundle.images_carry import ImageCarryRequest
from prai.bundle.manifest import parse_manifest
from prai.bundle.oci_layout import check_bundle_layout
from prai.errors import UsageError
from tests.bundle.bundle_fixtures import PKI, Registry
from tests.bundle.oci_fixtures import (
    MT_INDEX,
    NestedLayout,
    PlainRegistry,
    _entry,
    _index,
    sha,
    skopeo,
)


def _raw(tmp: Path, registry: Registry, pki: PKI, ref: str) -> bytes:
    certs = tmp / "certs"
    certs.mkdir(exist_ok=True)
    (certs / "ca.crt").write_bytes(pki.ca_cert.read_bytes())
    out = skopeo("inspect", "--raw", "--cert-dir", str(certs), "--creds",
                 f"{registry.user}:{registry.password}", f"docker://{registry.host}/{ref}")
    return out.stdout.encode()


def _blobs(bundle: Path) -> dict[str, bytes]:
    return {"sha256:" + p.name: p.read_bytes() for p in (bundle / "images/blobs/sha256").iterdir()}


def test_index_of_indexes_carried_whole_verified_and_pushed(
    tmp_path: Path, nested: NestedLayout, connected: PlainRegistry, registry: Registry, pki: PKI,
    authfile: Path,
) -> None:
    top = sha(nested.top)
    b = tmp_path / "b"
    res = create_bundle(b, model=None, carry=ImageCarryRequest(
        [f"{connected.host}/team/nested@{top}"]))
    img = res.manifest.images[0]
    assert img.digest == top and img.index_digest is None and img.carried
    assert img.platforms == ["linux/amd64", "linux/arm64", "linux/ppc64le", "linux/s390x"]
    # every level byte for byte, every image's config and layers, the attestation too
    blobs = _blobs(b)
    for digest, doc in nested.docs().items():
        assert blobs[digest] == doc, digest
    expected = set(nested.docs())
    for i in nested.images.values():
        expected |= set(i.blobs())
    assert set(blobs) == expected
    assert verify_bundle(b).ok
    # the push order: every index after the manifests and indexes it names
    manifest = parse_manifest((b / "prai-bundle.json").read_bytes())
    walked = check_bundle_layout(manifest, lambda p: (b / p).read_bytes())
    assert not walked.problems
    order = [d for d, _, _ in walked.images[0].manifests]
    assert set(order) == set(nested.docs()) and order[-1] == top
    for parent in (nested.top, nested.inner, nested.second, nested.deep):
        for child in json.loads(parent)["manifests"]:
            assert order.index(child["digest"]) < order.index(sha(parent))

    loaded = load_bundle(b, None, images_to=f"{registry.host}/mirror", ca_bundle=pki.ca_cert,
                         authfile=authfile, image_map_out=tmp_path / "map.json")
    assert loaded.images is not None and loaded.images["manifests_put"] == len(order)
    # skopeo, an independent client, reads every level back from the internal registry
    for digest, doc in nested.docs().items():
        assert _raw(tmp_path, registry, pki, f"mirror/team/nested@{digest}") == doc
    again = load_bundle(b, None, images_to=f"{registry.host}/mirror", ca_bundle=pki.ca_cert,
                        authfile=authfile, image_map_out=tmp_path / "map.json")
    assert again.images is not None
    assert again.images["manifests_put"] == 0 and again.images["blobs_uploaded"] == 0

    # the same image from the OCI layout, under a tag: the same digests, pushed by tag
    c = tmp_path / "c.tar"
    res = create_bundle(c, model=None, carry=ImageCarryRequest(
        [f"oci:{nested.path}:nested-1=quay.io/corp/nested:2"]))
    assert res.manifest.images[0].digest == top
    assert verify_bundle(c).ok
    load_bundle(c, None, images_to=f"{registry.host}/mirror", ca_bundle=pki.ca_cert,
                authfile=authfile, image_map_out=tmp_path / "map2.json")
    assert _raw(tmp_path, registry, pki, "mirror/corp/nested:2") == nested.top

    # verify walks every level: a nested child taken out of the bundle is named missing
    child = nested.images["linux/s390x"].digest[7:]
    broken = tmp_path / "broken"
    shutil.copytree(b, broken)
    data = json.loads((broken / "prai-bundle.json").read_text())
    data["files"] = [f for f in data["files"] if f["path"] != f"images/blobs/sha256/{child}"]
    (broken / "prai-bundle.json").write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
    (broken / "SHA256SUMS").write_text("".join(f"{f['sha256']}  {f['path']}\n" for f in data["files"]))
    (broken / f"images/blobs/sha256/{child}").unlink()
    report = verify_bundle(broken)
    assert report.exit_code == 10
    assert f"images/blobs/sha256/{child} is missing" in str(report.problems[0])
    assert f"index {sha(nested.deep)}" in str(report.problems[0])


def test_platform_narrowing_through_nested_indexes(
    tmp_path: Path, nested: NestedLayout, connected: PlainRegistry
) -> None:
    top = sha(nested.top)
    src = f"{connected.host}/team/nested@{top}"
    for platform, via in (("linux/arm64", nested.inner), ("linux/s390x", nested.deep)):
        out = tmp_path / platform.replace("/", "-")
        res = create_bundle(out, model=None, carry=ImageCarryRequest([src], platform=platform))
        want = nested.images[platform]
        img = res.manifest.images[0]
        assert (img.digest, img.index_digest, img.platforms) == (want.digest, top, [platform])
        assert set(_blobs(out)) == set(want.blobs())  # no index, no other platform
        assert _blobs(out)[want.digest] == want.manifest
        said = [w for w in res.warnings if "--platform" in w]
        assert len(said) == 1 and f"keeps only the {platform} manifest {want.digest}" in said[0]
        assert f"listed by the nested index {sha(via)}" in said[0] and top in said[0]
        assert verify_bundle(out).ok
    with pytest.raises(UsageError, match=r"has no linux/riscv64 image \(it has: linux/amd64, "
                       r"linux/arm64, linux/ppc64le, linux/s390x\)"):
        create_bundle(tmp_path / "x", model=None,
                      carry=ImageCarryRequest([src], platform="linux/riscv64"))
    assert not (tmp_path / "x").exists()


def test_indexes_nested_too_deep_are_one_line(tmp_path: Path, nested: NestedLayout) -> None:
    """Nine indexes inside each other (verify's limit is eight): one line, nothing written."""
    lay = tmp_path / "deep"
    shutil.copytree(nested.path, lay)
    doc = nested.top
    for _ in range(8):
        doc = _index([_entry(MT_INDEX, doc)], None)
        (lay / "blobs/sha256" / sha(doc)[7:]).write_bytes(doc)
    index = json.loads((lay / "index.json").read_text())
    index["manifests"].append(_entry(MT_INDEX, doc, None,
                                     {"org.opencontainers.image.ref.name": "too-deep"}))
    (lay / "index.json").write_text(json.dumps(index))
    out = subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "bundle", "create", "-o", str(tmp_path / "b"),
         "--image", f"oci:{lay}:too-deep=quay.io/corp/deep:1"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0].startswith("error: image quay.io/corp/deep:1: indexes nested deeper than 8")
    assert len(lines) == 2 and "Traceback" not in out.stderr
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".*partial"))
