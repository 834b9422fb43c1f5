"""Import receipts and delta bundles, as a user runs them (the real CLI in subprocesses).

Connected side: a full bundle (base model + adapter v1). Closed side: load it into a
directory; the load leaves an import receipt, which goes back out. Connected side: the
adapter's v2 as a delta ``--since`` that receipt. Closed side: verify the delta, load it
on top, verify the destination against the new root digest. A delta for another base is
refused before anything is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bundle import bundle_fixtures
from tests.bundle.bundle_fixtures import build_adapter, build_tiny_llama

PRAI = [sys.executable, "-m", "prai.cli.main"]


def _prai(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRAI, *map(str, args)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )


def _json(*args: object) -> dict:  # type: ignore[type-arg]
    out = _prai(*args, "--json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def _snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root: (size, mtime_ns, first bytes), to prove nothing changed."""
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes()[:4096])
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def base_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny Llama with a 16k vocabulary (8 MiB of weights), so the adapter is small beside it."""
    monkeypatch.setattr(bundle_fixtures, "VOCAB", 16384)
    model = build_tiny_llama(tmp_path / "base-model")
    (model / "README.md").write_text("---\nlicense: apache-2.0\n---\n# base\n", encoding="utf-8")
    return model


def test_receipt_delta_round_trip_and_wrong_base(tmp_path: Path, base_model: Path) -> None:
    v1 = build_adapter(tmp_path / "faq-v1", r=4)
    v2 = build_adapter(tmp_path / "faq-v2", r=8)
    full = tmp_path / "full"
    r1 = _json("bundle", "create", "-o", full, "--model", base_model, "--adapter", f"faq={v1}")["root_digest"]

    # closed side: load, and the receipt says what is there, when, and by whom
    dest = tmp_path / "pvc"
    loaded = _json("bundle", "load", full, "--to", dest, "--receipt", tmp_path / "receipt-out.json")
    receipt_path = dest / ".prai-import-receipt.json"
    receipt = json.loads(receipt_path.read_text(encoding="utf-8"))
    assert receipt["root_digest"] == r1 and receipt["complete"] is True
    assert "@" in receipt["loaded_by"] and receipt["loaded_at"].endswith("Z")
    manifest = json.loads((full / "prai-bundle.json").read_text(encoding="utf-8"))
    assert {(f["path"], f["sha256"]) for f in receipt["files"]} == {
        (f["path"], f["sha256"]) for f in manifest["files"]
    }
    assert (tmp_path / "receipt-out.json").read_bytes() == receipt_path.read_bytes()
    assert str(receipt_path) in loaded["details"]["receipt"]
    assert _json("bundle", "verify", dest, "--root-digest", r1)["ok"] is True

    # connected side: an adapter-only update as a delta against the receipt
    delta = tmp_path / "delta"
    created = _json(
        "bundle", "create", "-o", delta, "--model", base_model, "--adapter", f"faq={v2}", "--since", receipt_path
    )
    r2 = created["root_digest"]
    assert created["delta_base"] == r1
    ratio = _tree_bytes(delta) / _tree_bytes(full)
    print(f"delta {_tree_bytes(delta)} B / full {_tree_bytes(full)} B = {ratio:.4%}")
    assert ratio < 0.01, ratio
    dm = json.loads((delta / "prai-bundle.json").read_text(encoding="utf-8"))
    assert dm["delta"]["base_root_digest"] == r1
    assert not (delta / "model").exists()  # the model is in the base, not carried
    assert {f["path"] for f in dm["files"]} >= {f["path"] for f in manifest["files"] if f["role"] == "model"}
    # without PrAI, SHA256SUMS checks what is carried
    assert subprocess.run(["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=delta, capture_output=True).returncode == 0
    report = _json("bundle", "verify", delta, "--root-digest", r2)
    assert report["ok"] and {f["status"] for f in report["files"]} == {"ok", "in_base"}

    # a destination that holds another base: refused before anything is written
    other = tmp_path / "other-pvc"
    _json("bundle", "create", "-o", tmp_path / "model-only", "--model", base_model)
    _json("bundle", "load", tmp_path / "model-only", "--to", other)
    before = _snapshot(other)
    refused = _prai("bundle", "load", delta, "--to", other)
    assert refused.returncode == 18, refused.stderr
    assert f"delta for base {r1}" in refused.stderr and "nothing was written" in refused.stderr
    assert _snapshot(other) == before
    empty = tmp_path / "empty-pvc"
    empty.mkdir()
    assert _prai("bundle", "load", delta, "--to", empty).returncode == 18
    assert list(empty.iterdir()) == []

    # the right base: loads, ends in the full new state, verifies against the new root digest
    model_inode = (dest / "model" / "config.json").stat().st_ino
    applied = _json("bundle", "load", delta, "--to", dest)
    assert applied["bytes_written"] < 0.01 * _tree_bytes(full)
    assert (dest / "model" / "config.json").stat().st_ino == model_inode  # untouched
    assert (dest / "adapters/faq/adapter_model.safetensors").read_bytes() == (
        v2 / "adapter_model.safetensors"
    ).read_bytes()
    new_receipt = json.loads(receipt_path.read_text(encoding="utf-8"))
    assert new_receipt["root_digest"] == r2 and new_receipt["delta_base_root_digest"] == r1
    assert _json("bundle", "verify", dest, "--root-digest", r2)["ok"] is True
    assert _json("bundle", "verify", dest, "--manifest", delta / "prai-bundle.json")["ok"] is True
    # the old root digest no longer describes the destination
    assert _prai("bundle", "verify", dest, "--root-digest", r1).returncode == 14


def test_delta_refused_when_a_base_file_changed(tmp_path: Path, tiny_llama: Path) -> None:
    v1 = build_adapter(tmp_path / "a1")
    v2 = build_adapter(tmp_path / "a2", r=8)
    _json("bundle", "create", "-o", tmp_path / "b1", "--model", tiny_llama, "--adapter", f"faq={v1}")
    dest = tmp_path / "pvc"
    _json("bundle", "load", tmp_path / "b1", "--to", dest)
    _json(
        "bundle", "create", "-o", tmp_path / "d", "--model", tiny_llama, "--adapter", f"faq={v2}",
        "--since", tmp_path / "b1" / "prai-bundle.json",
    )
    weights = next((dest / "model").glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    before = _snapshot(dest)
    out = _prai("bundle", "load", tmp_path / "d", "--to", dest)
    assert out.returncode == 18 and "missing or changed" in out.stderr, out.stderr
    assert _snapshot(dest) == before
    bad = _prai("bundle", "verify", dest)
    assert bad.returncode == 12 and "corrupted" in bad.stderr


def test_delta_drops_files_the_new_state_no_longer_lists(tmp_path: Path, tiny_llama: Path) -> None:
    faq, legal = build_adapter(tmp_path / "faq"), build_adapter(tmp_path / "legal")
    _json("bundle", "create", "-o", tmp_path / "b1", "--adapter", f"faq={faq}", "--adapter", f"legal={legal}")
    dest = tmp_path / "pvc"
    _json("bundle", "load", tmp_path / "b1", "--to", dest)
    (dest / "notes.txt").write_text("operator's own file\n")
    r2 = _json(
        "bundle", "create", "-o", tmp_path / "d", "--adapter", f"faq={faq}", "--since", dest
    )["root_digest"]
    out = _json("bundle", "load", tmp_path / "d", "--to", dest)
    assert sorted(out["details"]["removed"]) == sorted(f"adapters/legal/{p.name}" for p in legal.iterdir())
    assert not (dest / "adapters" / "legal").exists() and (dest / "notes.txt").is_file()
    assert _json("bundle", "verify", dest, "--root-digest", r2)["ok"] is True


def test_s3_load_leaves_a_receipt_and_takes_a_delta(tmp_path: Path, tiny_llama: Path, s3_http, s3_env) -> None:  # type: ignore[no-untyped-def]
    import boto3

    v1, v2 = build_adapter(tmp_path / "a1"), build_adapter(tmp_path / "a2", r=8)
    _json("bundle", "create", "-o", tmp_path / "b1", "--model", tiny_llama, "--adapter", f"faq={v1}")
    s3 = boto3.client("s3", endpoint_url=s3_http.url, region_name="us-east-1")
    s3.create_bucket(Bucket="models")
    to = "s3://models/kitchen"
    _json("bundle", "load", tmp_path / "b1", "--to", to, "--endpoint-url", s3_http.url)
    body = s3.get_object(Bucket="models", Key="kitchen/.prai-import-receipt.json")["Body"].read()
    receipt = json.loads(body)
    (tmp_path / "receipt.json").write_bytes(body)
    r2 = _json(
        "bundle", "create", "-o", tmp_path / "d", "--model", tiny_llama, "--adapter", f"faq={v2}",
        "--since", tmp_path / "receipt.json",
    )["root_digest"]
    wrong = _prai("bundle", "load", tmp_path / "d", "--to", "s3://models/elsewhere", "--endpoint-url", s3_http.url)
    assert wrong.returncode == 18, wrong.stderr
    assert "Contents" not in s3.list_objects_v2(Bucket="models", Prefix="elsewhere/")
    out = _json("bundle", "load", tmp_path / "d", "--to", to, "--endpoint-url", s3_http.url)
    model_files = [f for f in receipt["files"] if f["path"].startswith("model/")]
    assert 2 <= out["written"] <= 3 and out["skipped"] >= len(model_files)  # adapter (+ SBOM) only
    after = json.loads(s3.get_object(Bucket="models", Key="kitchen/.prai-import-receipt.json")["Body"].read())
    assert after["root_digest"] == r2 and after["delta_base_root_digest"] == receipt["root_digest"]


def test_oci_load_leaves_a_receipt_artifact(tmp_path: Path, tiny_llama: Path, registry, pki, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from prai.bundle import create_bundle, load_bundle
    from prai.settings import get_settings
    from tests.bundle.bundle_fixtures import IN_CI

    if shutil.which("skopeo") is None:
        if IN_CI:
            pytest.fail("skopeo is not installed; .ci/run installs it")
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    monkeypatch.setenv("PRAI_REGISTRY_USERNAME", registry.user)
    monkeypatch.setenv("PRAI_REGISTRY_PASSWORD", registry.password)
    get_settings.cache_clear()
    try:
        res = create_bundle(tmp_path / "b", model=tiny_llama)
        out = load_bundle(tmp_path / "b", f"oci://{registry.host}/models/tiny:v1", ca_bundle=pki.ca_cert)
    finally:
        get_settings.cache_clear()
    where = out.details["receipt"][0]
    assert where.startswith(f"{registry.host}/models/tiny:v1.prai-receipt@sha256:")
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(pki.ca_cert, certs / "ca.crt")
    creds = ["--cert-dir", str(certs), "--creds", f"{registry.user}:{registry.password}"]
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", *creds, f"docker://{registry.host}/models/tiny:v1.prai-receipt"],
        capture_output=True, text=True, check=True,
    )
    art = json.loads(raw.stdout)
    assert art["artifactType"] == "application/vnd.prai.import-receipt.v1+json"
    assert art["subject"]["digest"] == out.details["digest"]
    subprocess.run(
        ["skopeo", "--insecure-policy", "copy", "--src-cert-dir", str(certs), "--src-creds",
         f"{registry.user}:{registry.password}", f"docker://{registry.host}/models/tiny:v1.prai-receipt",
         f"dir:{tmp_path / 'pulled'}"],
        capture_output=True, check=True,
    )
    blob = tmp_path / "pulled" / art["layers"][0]["digest"].removeprefix("sha256:")
    receipt = json.loads(blob.read_text(encoding="utf-8"))
    assert receipt["root_digest"] == res.root_digest and receipt["location"] == out.location
