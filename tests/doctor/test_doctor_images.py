"""images --live against Debian's docker-registry on 127.0.0.1 (TLS with the test CA,
htpasswd auth): a pushed manifest answers, a digest never mirrored does not."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from prai.doctor import build_plan, run_doctor
from tests._support.net import free_port, wait_port
from tests.doctor.doctor_util import Pki, checks, cluster_kitchen

USER, PASSWORD = "mirror", "pw-not-printed"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[tuple[str, str]]:
    """(host:port, digest of rhoai/vllm) — one OCI manifest pushed through the registry API."""
    import bcrypt

    exe = shutil.which("docker-registry")
    if exe is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("docker-registry is not installed; .ci/run installs it")
        pytest.skip("docker-registry is not installed")
    d = tmp_path_factory.mktemp("doctor-registry")
    (d / "htpasswd").write_bytes(USER.encode() + b":" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)))
    port = free_port()
    (d / "config.yml").write_text(
        f"version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {d / 'data'}}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: s, tls: {{certificate: {pki.good[0]}, key: {pki.good[1]}}}}}\n"
        f"auth: {{htpasswd: {{realm: doctor, path: {d / 'htpasswd'}}}}}\n")
    with open(d / "registry.log", "wb") as log:
        proc = subprocess.Popen([exe, "serve", str(d / "config.yml")], stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_port(port, proc=proc, what="docker-registry")
            host = f"127.0.0.1:{port}"
            yield host, _push(host, pki.ca)
        finally:
            proc.terminate()
            proc.wait(10)


def _push(host: str, ca: Path) -> str:
    config = b"{}"
    cdigest = "sha256:" + hashlib.sha256(config).hexdigest()
    base = f"https://{host}/v2/rhoai/vllm"
    with httpx.Client(verify=str(ca), auth=(USER, PASSWORD), trust_env=False) as c:
        loc = c.post(f"{base}/blobs/uploads/").headers["location"]
        sep = "&" if "?" in loc else "?"
        c.put(f"{loc}{sep}digest={cdigest}", content=config,
              headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": cdigest, "size": len(config)},
                               "layers": []}).encode()
        r = c.put(f"{base}/manifests/v1", content=manifest,
                  headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        r.raise_for_status()
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_registry_answers_for_mirrored_digest_only(tmp_path: Path, pki: Pki, registry: tuple[str, str]) -> None:
    host, digest = registry
    kitchen = cluster_kitchen(tmp_path / "kitchen.yaml", model_dir=tmp_path, ca=pki.ca, registry=host,
                              vllm_mirror=f"{host}/rhoai/vllm", vllm_digest=digest)
    env = {"PRAI_REGISTRY_USERNAME": USER, "PRAI_REGISTRY_PASSWORD": PASSWORD}
    report = run_doctor(build_plan(kitchen, env=env, live=True), ["images"])
    c = checks(report, "images")
    assert c["vllm registry"].status == "PASS", c["vllm registry"]
    assert c["prai registry"].status == "FAIL"
    assert "404" in c["prai registry"].evidence and "oc-mirror" in c["prai registry"].remediation
    assert PASSWORD not in json.dumps(report.to_json())
    c = checks(run_doctor(build_plan(kitchen, env={}, live=True), ["images"]), "images")
    assert c["vllm registry"].status == "WARN" and "401" in c["vllm registry"].evidence
