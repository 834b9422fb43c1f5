"""Every bundle carries a CycloneDX 1.6 SBOM; `prai bundle inspect --sbom` prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from prai.bundle import create_bundle, read_manifest
from prai.bundle.sbom import SBOM_PATH, validate_sbom

PRAI = [sys.executable, "-m", "prai.cli.main"]
DIGEST = "sha256:" + "ab" * 32


def test_sbom_lists_models_adapters_images_and_cas(tmp_path: Path, tiny_llama: Path, adapters, pki) -> None:  # type: ignore[no-untyped-def]
    (tiny_llama / "README.md").write_text(
        "---\nlicense: apache-2.0\nbase_model: meta-llama/Llama-3.2-1B\n---\n# tiny\n", encoding="utf-8"
    )
    (adapters["faq"] / "README.md").write_text("---\nlicense: mit\n---\n", encoding="utf-8")
    res = create_bundle(
        tmp_path / "b.tar",
        model=tiny_llama,
        adapters=adapters,
        cas=[pki.ca_cert],
        images=[f"registry.internal:5000/rhoai/vllm:0.32@{DIGEST}", "quay.io/modh/vllm:latest"],
    )
    out = subprocess.run(
        [*PRAI, "bundle", "inspect", str(tmp_path / "b.tar"), "--sbom"],
        capture_output=True, env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert validate_sbom(out.stdout) is None  # CycloneDX 1.6 JSON schema, strict
    bom = json.loads(out.stdout)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    comps = {c["bom-ref"]: c for c in bom["components"]}
    files = {f.path: f.sha256 for f in res.manifest.files}

    model = comps["model"]
    assert model["type"] == "machine-learning-model"
    assert model["licenses"] == [{"expression": "apache-2.0"}]
    assert model["pedigree"]["ancestors"][0]["name"] == "meta-llama/Llama-3.2-1B"
    inner = {c["name"]: c["hashes"][0]["content"] for c in model["components"]}
    assert inner == {p: h for p, h in files.items() if p.startswith("model/")}

    faq = comps["adapter:faq"]
    assert faq["licenses"] == [{"expression": "mit"}] and faq["type"] == "machine-learning-model"
    assert {"ref": "adapter:faq", "dependsOn": ["model"]} in bom["dependencies"]
    assert comps["adapter:legal"]["pedigree"]["ancestors"][0]["name"] == "tiny-llama"  # from adapter_config

    images = [c for c in bom["components"] if c["type"] == "container"]
    pinned = next(c for c in images if c.get("hashes"))
    assert pinned["purl"] == (
        f"pkg:oci/vllm@sha256:{'ab' * 32}?repository_url=registry.internal:5000/rhoai/vllm&tag=0.32"
    )
    assert pinned["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert any(p == {"name": "prai:pinned_by_digest", "value": "false"} for c in images for p in c["properties"])

    ca = next(c for c in bom["components"] if c["type"] == "cryptographic-asset")
    cert = ca["cryptoProperties"]["certificateProperties"]
    assert ca["cryptoProperties"]["assetType"] == "certificate"
    assert cert["subjectName"] == "CN=PrAI Test Root CA,O=PrAI Test"
    assert ca["hashes"][0]["content"] == files[f"ca/{pki.ca_cert.name}"]

    # the SBOM is a payload file: in the manifest, SHA256SUMS and under the signature
    assert files[SBOM_PATH] and read_manifest(tmp_path / "b.tar").by_path()[SBOM_PATH].role == "sbom"


def test_same_content_same_sbom(tmp_path: Path, tiny_llama: Path) -> None:
    a = create_bundle(tmp_path / "a", model=tiny_llama)
    b = create_bundle(tmp_path / "b", model=tiny_llama)
    assert (tmp_path / "a" / SBOM_PATH).read_bytes() == (tmp_path / "b" / SBOM_PATH).read_bytes()
    assert a.manifest.by_path()[SBOM_PATH] == b.manifest.by_path()[SBOM_PATH]
