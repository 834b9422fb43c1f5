"""prai bundle load --to oci://: Debian's docker-registry over TLS with htpasswd, read back
with skopeo (an independent client) and unpacked as a container runtime would."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from prai.bundle import create_bundle, load_bundle
from prai.bundle.load_oci import MT_CONFIG, MT_LAYER, MT_MANIFEST
from prai.errors import BundleLoadError
from prai.settings import get_settings
from tests.bundle.bundle_fixtures import IN_CI, PKI, Registry


@pytest.fixture
def creds(registry: Registry, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PRAI_REGISTRY_USERNAME", registry.user)
    monkeypatch.setenv("PRAI_REGISTRY_PASSWORD", registry.password)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _skopeo_pull(tmp: Path, registry: Registry, pki: PKI, ref: str) -> Path:
    if shutil.which("skopeo") is None:
        if IN_CI:
            pytest.fail("skopeo is not installed; .ci/run installs it")
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    certs = tmp / "certs"
    certs.mkdir(exist_ok=True)
    shutil.copy(pki.ca_cert, certs / "ca.crt")
    out = tmp / "pulled"
    subprocess.run(
        [
            "skopeo",
            "--insecure-policy",
            "copy",
            "--src-cert-dir",
            str(certs),
            "--src-creds",
            f"{registry.user}:{registry.password}",
            f"docker://{registry.host}/{ref}",
            f"dir:{out}",
        ],
        check=True,
        capture_output=True,
    )
    return out


def _unpack(pulled: Path) -> Path:
    manifest = json.loads((pulled / "manifest.json").read_text())
    root = pulled.parent / "rootfs"
    root.mkdir()
    for layer in manifest["layers"]:
        with tarfile.open(pulled / layer["digest"].removeprefix("sha256:")) as tf:
            tf.extractall(root, filter="data")
    return root


def test_push_modelcar_and_read_back(tmp_path, tiny_llama, adapters, registry, pki, creds) -> None:  # type: ignore[no-untyped-def]
    create_bundle(tmp_path / "b.tar", model=tiny_llama, adapters=adapters)
    ref = "models/tiny-llama:v1"
    res = load_bundle(tmp_path / "b.tar", f"oci://{registry.host}/{ref}", ca_bundle=pki.ca_cert)
    digest = res.details["digest"]
    assert res.location == f"oci://{registry.host}/models/tiny-llama@{digest}"
    pulled = _skopeo_pull(tmp_path, registry, pki, ref)
    manifest = json.loads((pulled / "manifest.json").read_text())
    assert manifest["mediaType"] == MT_MANIFEST and manifest["config"]["mediaType"] == MT_CONFIG
    assert {ly["mediaType"] for ly in manifest["layers"]} == {MT_LAYER}
    config = json.loads((pulled / manifest["config"]["digest"].removeprefix("sha256:")).read_text())
    assert config["rootfs"]["diff_ids"] == [ly["digest"] for ly in manifest["layers"]]
    assert config["config"]["Labels"]["io.prai.bundle.root-digest"] == res.root_digest
    root = _unpack(pulled)
    for p in tiny_llama.iterdir():
        assert (root / "models" / p.name).read_bytes() == p.read_bytes(), p.name
    for name, d in adapters.items():
        for p in d.iterdir():
            assert (root / "models/adapters" / name / p.name).read_bytes() == p.read_bytes()
    assert (root / "models/config.json").stat().st_mode & 0o777 == 0o644
    # second push: every blob already there, same digest
    again = load_bundle(tmp_path / "b.tar", f"oci://{registry.host}/{ref}", ca_bundle=pki.ca_cert)
    assert again.written == 0 and again.details["digest"] == digest


def test_large_file_gets_own_layer(tmp_path, minilm, registry, pki, creds) -> None:  # type: ignore[no-untyped-def]
    create_bundle(tmp_path / "b", model=minilm)
    res = load_bundle(
        tmp_path / "b", f"oci://{registry.host}/models/minilm:1", ca_bundle=pki.ca_cert
    )
    assert res.details["layers"] == 2  # small files + model.safetensors
    pulled = _skopeo_pull(tmp_path, registry, pki, "models/minilm:1")
    titles = [
        ly["annotations"]["org.opencontainers.image.title"]
        for ly in json.loads((pulled / "manifest.json").read_text())["layers"]
    ]
    assert "models/model.safetensors" in titles
    root = _unpack(pulled)
    assert (root / "models/model.safetensors").read_bytes() == (
        minilm / "model.safetensors"
    ).read_bytes()


def test_tls_and_auth_errors(tmp_path, tiny_llama, registry, pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    create_bundle(tmp_path / "b", model=tiny_llama)
    to = f"oci://{registry.host}/models/x:1"
    get_settings.cache_clear()
    monkeypatch.delenv("PRAI_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    with pytest.raises(BundleLoadError, match="not trusted") as exc:
        load_bundle(tmp_path / "b", to)
    assert "--ca-bundle" in exc.value.hint
    with pytest.raises(BundleLoadError, match="needs a login"):
        load_bundle(tmp_path / "b", to, ca_bundle=pki.ca_cert)
    auth = tmp_path / "auth.json"
    auth.write_text(
        json.dumps(
            {
                "auths": {
                    registry.host: {
                        "auth": base64.b64encode(f"{registry.user}:wrong".encode()).decode()
                    }
                }
            }
        )
    )
    with pytest.raises(BundleLoadError, match="refused the credentials"):
        load_bundle(tmp_path / "b", to, ca_bundle=pki.ca_cert, authfile=auth)
    auth.write_text(
        json.dumps(
            {
                "auths": {
                    registry.host: {
                        "auth": base64.b64encode(
                            f"{registry.user}:{registry.password}".encode()
                        ).decode()
                    }
                }
            }
        )
    )
    assert load_bundle(tmp_path / "b", to, ca_bundle=pki.ca_cert, authfile=auth).written == 8  # 7 + the SBOM
    get_settings.cache_clear()


def _push_docker_base(registry: Registry, pki: PKI, repo: str) -> None:
    """A Docker schema-2 base image (gzip layer with bin/sh and an Env) in the registry."""
    import gzip
    import hashlib
    import io

    import httpx

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        ti = tarfile.TarInfo("bin/sh")
        body = b"#!fake shell\n"
        ti.size, ti.mode = len(body), 0o755
        tf.addfile(ti, io.BytesIO(body))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    cfg = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()],
            },
            "history": [{"created_by": "test base"}],
        }
    ).encode()
    auth = (registry.user, registry.password)
    with httpx.Client(verify=str(pki.ca_cert), auth=auth, base_url=f"https://{registry.host}") as c:
        for blob in (layer, cfg):
            d = "sha256:" + hashlib.sha256(blob).hexdigest()
            loc = c.post(f"/v2/{repo}/blobs/uploads/").headers["location"]
            sep = "&" if "?" in loc else "?"
            c.put(f"{loc}{sep}digest={d}", content=blob).raise_for_status()
        man = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(cfg),
                "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                }
            ],
        }
        c.put(
            f"/v2/{repo}/manifests/1",
            content=json.dumps(man).encode(),
            headers={"Content-Type": man["mediaType"]},
        ).raise_for_status()


def test_modelcar_on_base_image(tmp_path, tiny_llama, registry, pki, creds) -> None:  # type: ignore[no-untyped-def]
    _push_docker_base(registry, pki, "base/shell")
    create_bundle(tmp_path / "b", model=tiny_llama)
    res = load_bundle(
        tmp_path / "b",
        f"oci://{registry.host}/models/with-shell:1",
        ca_bundle=pki.ca_cert,
        base_image="base/shell:1",
    )
    assert res.details["base_image"] == "base/shell:1"
    pulled = _skopeo_pull(tmp_path, registry, pki, "models/with-shell:1")
    manifest = json.loads((pulled / "manifest.json").read_text())
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    config = json.loads((pulled / manifest["config"]["digest"].removeprefix("sha256:")).read_text())
    assert config["config"]["Env"] == ["PATH=/bin"] and len(config["rootfs"]["diff_ids"]) == 2
    root = _unpack(pulled)
    assert (root / "bin/sh").is_file() and (root / "models/config.json").is_file()
    with pytest.raises(BundleLoadError, match="not found"):
        load_bundle(
            tmp_path / "b",
            f"oci://{registry.host}/models/x:1",
            ca_bundle=pki.ca_cert,
            base_image="base/none:1",
        )


# --- a base image behind nested indexes (issue 14) ----------------------------------------


def test_modelcar_on_a_base_image_behind_nested_indexes(  # type: ignore[no-untyped-def]
    tmp_path, tiny_llama, registry, pki, creds, nested
) -> None:
    """``--base-image`` names an index of indexes (buildx attestations inside, as ``--image``
    carries them): the linux/amd64 image is found depth first, here four levels down."""
    from tests.bundle.oci_fixtures import MT_INDEX, _entry, _index, put_index, put_nested, sha

    auth = (registry.user, registry.password)
    put_nested(nested, registry.host, "base/nested", "1", ca=pki.ca_cert, creds=auth)
    doc = nested.top
    for _ in range(2):  # two more indexes around it: amd64 sits at depth 4
        doc = _index([_entry(MT_INDEX, doc)], None)
        put_index(registry.host, "base/nested", sha(doc), doc, ca=pki.ca_cert, creds=auth)
    put_index(registry.host, "base/nested", "wrapped", doc, ca=pki.ca_cert, creds=auth)
    amd64 = nested.images["linux/amd64"]
    create_bundle(tmp_path / "b", model=tiny_llama)
    for base in ("base/nested:wrapped", f"base/nested@{sha(nested.top)}"):
        res = load_bundle(tmp_path / "b", f"oci://{registry.host}/models/on-nested:1",
                          ca_bundle=pki.ca_cert, base_image=base)
        assert res.details["base_image"] == base
    pulled = _skopeo_pull(tmp_path, registry, pki, "models/on-nested:1")
    manifest = json.loads((pulled / "manifest.json").read_text())
    base_layers = json.loads(amd64.manifest)["layers"]
    assert [ly["digest"] for ly in manifest["layers"][: len(base_layers)]] == [ly["digest"] for ly in base_layers]
    config = json.loads((pulled / manifest["config"]["digest"].removeprefix("sha256:")).read_text())
    assert config["config"]["Cmd"] == ["/bin/app"] and config["architecture"] == "amd64"
    assert config["rootfs"]["diff_ids"][: len(amd64.diff_ids)] == amd64.diff_ids
    root = _unpack(pulled)
    assert (root / "bin/nested").read_bytes() == b"linux/amd64\n" * 300
    assert (root / "models/config.json").is_file()


def _load_cli(bundle: Path, to: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os
    import sys

    return subprocess.run(
        [sys.executable, "-m", "prai.cli.main", "bundle", "load", str(bundle), "--to", to, *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200", **env},
    )


def test_a_base_image_without_linux_amd64_is_refused_before_any_upload(  # type: ignore[no-untyped-def]
    tmp_path, tiny_llama, registry, pki, nested
) -> None:
    """No platform fits: exit 18, one line listing the platforms the nested indexes hold,
    and nothing pushed. Nested deeper than 8 levels: one line too."""
    from tests.bundle.oci_fixtures import MT_INDEX, _entry, _index, put_index, put_nested, sha

    auth = (registry.user, registry.password)
    put_nested(nested, registry.host, "base/nested", "1", ca=pki.ca_cert, creds=auth)
    create_bundle(tmp_path / "b", model=tiny_llama)
    env = {"PRAI_REGISTRY_USERNAME": registry.user, "PRAI_REGISTRY_PASSWORD": registry.password}
    target = f"oci://{registry.host}/models/no-amd64:1"
    # `second` -> [ppc64le, `deep` -> [s390x]]: no linux/amd64 anywhere
    out = _load_cli(tmp_path / "b", target, "--ca-bundle", str(pki.ca_cert),
                    "--base-image", f"base/nested@{sha(nested.second)}", env=env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 18, out.stderr
    assert lines[0] == (f"error: --base-image base/nested@{sha(nested.second)}: no linux/amd64 image in "
                        "the index (it has: linux/ppc64le, linux/s390x)"), lines
    assert len(lines) == 2 and lines[1].startswith("hint: ") and "Traceback" not in out.stderr
    assert not (registry.storage / "docker/registry/v2/repositories/models/no-amd64").exists()  # no blob, no tag

    doc = nested.top
    for _ in range(8):  # the amd64 image 10 levels down: deeper than the 8 allowed
        doc = _index([_entry(MT_INDEX, doc)], None)
        put_index(registry.host, "base/nested", sha(doc), doc, ca=pki.ca_cert, creds=auth)
    out = _load_cli(tmp_path / "b", target, "--ca-bundle", str(pki.ca_cert),
                    "--base-image", f"base/nested@{sha(doc)}", env=env)
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 18 and "indexes nested deeper than 8 levels" in lines[0], out.stderr
    assert len(lines) == 2 and "Traceback" not in out.stderr


def test_an_unreachable_registry_at_load_says_so_for_load(tmp_path, tiny_llama) -> None:  # type: ignore[no-untyped-def]
    """The hint fits the command: `load` has no --image-ref-only (that is `create`'s)."""
    from tests._support.net import free_port

    create_bundle(tmp_path / "b", model=tiny_llama)
    host = f"127.0.0.1:{free_port()}"
    out = _load_cli(tmp_path / "b", f"oci://{host}/models/x:1", env={})
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 19 and f"cannot talk to the registry {host}" in lines[0], out.stderr
    assert len(lines) == 2 and "--image-ref-only" not in lines[1] and "bundle load" in lines[1], lines
