"""prai bundle create: real model directories in, a manifest that standard tools accept."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from prai.bundle import create_bundle, read_manifest, verify_bundle
from prai.bundle.manifest import MANIFEST_NAME, root_digest
from prai.errors import AdapterError, BundleDigestMismatch, ConfigError, ModelError, UsageError
from prai.modelfiles.model_dir import check_model_dir
from tests.bundle.bundle_fixtures import build_adapter, build_tiny_llama, make_cert, pem


def test_minilm_facts_and_sha256sum(tmp_path: Path, minilm: Path) -> None:
    res = create_bundle(tmp_path / "b", model=minilm)
    m = read_manifest(tmp_path / "b")
    assert m.model is not None
    assert m.model.architectures == ["BertModel"]
    assert m.model.parameter_count == 22_713_728  # all-MiniLM-L6-v2: 22.7 M parameters
    assert m.model.max_context_tokens == 512
    assert m.model.hidden_size == 384 and m.model.num_hidden_layers == 6
    assert {f.path for f in m.files} >= {
        "model/config.json",
        "model/model.safetensors",
        "model/tokenizer.json",
        "model/1_Pooling/config.json",
    }
    # plain coreutils accepts SHA256SUMS inside the bundle
    out = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=tmp_path / "b",
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(": OK") == len(m.files)
    assert res.root_digest.startswith("sha256:")
    assert (
        res.root_digest
        == "sha256:"
        + subprocess.run(
            ["sha256sum", str(tmp_path / "b" / MANIFEST_NAME)], capture_output=True, text=True
        ).stdout.split()[0]
    )


def test_tar_and_split_parts_reassemble(tmp_path: Path, minilm: Path) -> None:
    create_bundle(tmp_path / "one.tar", model=minilm)
    res = create_bundle(tmp_path / "split.tar", model=minilm, split_bytes=20 * 1024 * 1024)
    parts = sorted(tmp_path.glob("split.tar.part-*"))
    assert len(parts) == 5  # 91.6 MB in 20 MiB parts
    assert all(p.stat().st_size == 20 * 1024 * 1024 for p in parts[:-1])
    index = json.loads((tmp_path / "split.tar.parts.json").read_text())
    assert index["root_digest"] == res.root_digest
    ok = subprocess.run(
        ["sha256sum", "-c", "split.tar.parts.SHA256SUMS"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stdout
    # reassembly with cat gives the tar whose hash the index records; tar extracts it
    subprocess.run(
        f"cat {' '.join(p.name for p in parts)} > joined.tar", shell=True, cwd=tmp_path, check=True
    )
    joined = subprocess.run(
        ["sha256sum", "joined.tar"], cwd=tmp_path, capture_output=True, text=True
    ).stdout.split()[0]
    assert joined == index["sha256"]
    (tmp_path / "x").mkdir()
    subprocess.run(["tar", "-xf", "../joined.tar"], cwd=tmp_path / "x", check=True)
    assert subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "x").returncode == 0
    for b in ("one.tar", "split.tar", "split.tar.parts.json", "split.tar.part-0002"):
        assert verify_bundle(tmp_path / b).ok, b


def test_tiny_llama_with_adapters(
    tmp_path: Path, tiny_llama: Path, adapters: dict[str, Path]
) -> None:
    res = create_bundle(tmp_path / "b", model=tiny_llama, adapters=adapters)
    m = res.manifest
    assert m.model is not None and m.model.has_chat_template
    assert m.model.weight_files == [
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]
    assert m.model.max_context_tokens == 2048 and m.model.dtype == "float32"
    legal = next(a for a in m.adapters if a.name == "legal")
    assert legal.rank == 8 and legal.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert legal.base_model_name_or_path == "tiny-llama"
    roles = {f.path: (f.role, f.name) for f in m.files}
    assert roles["adapters/faq/adapter_config.json"] == ("adapter", "faq")
    assert res.warnings == []


@pytest.mark.parametrize(
    "damage,needle",
    [
        ("missing_shard", "model-00002-of-00002.safetensors is missing"),
        ("truncated_shard", "damaged safetensors"),
        ("no_tokenizer", "no tokenizer"),
        ("no_chat_template", "no chat template"),
        ("no_config", "config.json is missing"),
    ],
)
def test_incomplete_model_refused(tmp_path: Path, damage: str, needle: str) -> None:
    model = build_tiny_llama(tmp_path / "m")
    if damage == "missing_shard":
        (model / "model-00002-of-00002.safetensors").unlink()
    elif damage == "truncated_shard":
        p = model / "model-00001-of-00002.safetensors"
        p.write_bytes(p.read_bytes()[:-100])
    elif damage == "no_tokenizer":
        (model / "tokenizer.json").unlink()
    elif damage == "no_chat_template":
        (model / "chat_template.jinja").unlink()
    elif damage == "no_config":
        (model / "config.json").unlink()
    assert not check_model_dir(model).ok
    with pytest.raises(ModelError) as exc:
        create_bundle(tmp_path / "b", model=model)
    assert needle in str(exc.value)
    assert exc.value.exit_code == 4
    assert not (tmp_path / "b").exists()
    assert not list(tmp_path.glob(".b*"))


def test_adapter_must_fit(tmp_path: Path, tiny_llama: Path) -> None:
    wrong_dim = build_adapter(tmp_path / "wrong", in_dim=128)
    with pytest.raises(AdapterError, match=r"shape \[4, 128\].*needs \[4, 64\]"):
        create_bundle(tmp_path / "b", model=tiny_llama, adapters={"x": wrong_dim})
    unknown = build_adapter(tmp_path / "unknown", targets=("q_proj", "qkv_proj"))
    with pytest.raises(AdapterError, match="qkv_proj"):
        create_bundle(tmp_path / "b", model=tiny_llama, adapters={"x": unknown})
    other_base = build_adapter(tmp_path / "other", base="/models/llama-renamed")
    res = create_bundle(tmp_path / "b", model=tiny_llama, adapters={"x": other_base})
    assert any("trained on '/models/llama-renamed'" in w for w in res.warnings)


def test_ca_checks(tmp_path: Path, minilm: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    good = tmp_path / "good-ca.pem"
    good.write_bytes(pem(make_cert("Corp Root CA", key)))
    res = create_bundle(tmp_path / "b", model=minilm, cas=[good])
    assert res.manifest.cas[0].subject == "CN=Corp Root CA,O=PrAI Test"
    assert res.manifest.cas[0].not_after > datetime.now(UTC)
    assert "ca/good-ca.pem" in {f.path for f in res.manifest.files}
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(pem(make_cert("server.corp", key, ca=False)))
    with pytest.raises(ConfigError, match="not a CA certificate"):
        create_bundle(tmp_path / "b2", model=minilm, cas=[leaf])
    expired = tmp_path / "expired.pem"
    expired.write_bytes(pem(make_cert("Old CA", key, days=-1, start_days_ago=400)))
    with pytest.raises(ConfigError, match="expired"):
        create_bundle(tmp_path / "b3", model=minilm, cas=[expired])
    soon = tmp_path / "soon.pem"
    soon.write_bytes(pem(make_cert("Soon CA", key, days=5)))
    res = create_bundle(tmp_path / "b4", model=minilm, cas=[soon])
    assert any("plan its renewal" in w for w in res.warnings)


def test_image_refs(tmp_path: Path, minilm: Path) -> None:
    digest = "sha256:" + "ab" * 32
    res = create_bundle(
        tmp_path / "b",
        model=minilm,
        images=[f"quay.io/modh/vllm@{digest}", "registry.corp:5000/ai/vllm:0.8"],
    )
    assert res.manifest.images[0].digest == digest
    assert res.manifest.images[1].digest is None and res.manifest.images[1].tag == "0.8"
    assert any("no digest" in w for w in res.warnings)
    assert (tmp_path / "b/images/images.txt").read_text().splitlines()[0].endswith(digest)
    with pytest.raises(UsageError, match="not a valid image reference"):
        create_bundle(tmp_path / "b2", model=minilm, images=["quay.io/Bad Ref"])


def test_hf_download_metadata_cross_check(tmp_path: Path, minilm: Path) -> None:
    import shutil

    model = tmp_path / "dl"
    shutil.copytree(minilm, model)
    meta = model / ".cache/huggingface/download"
    meta.mkdir(parents=True)
    sha = subprocess.run(
        ["sha256sum", str(model / "model.safetensors")], capture_output=True, text=True
    ).stdout.split()[0]
    (meta / "model.safetensors.metadata").write_text(f"abc123\n{sha}\n1700000000.0\n")
    res = create_bundle(tmp_path / "b", model=model)
    assert res.manifest.model is not None and res.manifest.model.hf_cache_verified_files == 1
    assert not any(".cache" in f.path for f in res.manifest.files)
    (meta / "model.safetensors.metadata").write_text(f"abc123\n{'0' * 64}\n1700000000.0\n")
    with pytest.raises(BundleDigestMismatch, match="Hugging Face recorded"):
        create_bundle(tmp_path / "b2", model=model)
    assert not (tmp_path / "b2").exists()


def test_output_must_not_exist(tmp_path: Path, minilm: Path) -> None:
    (tmp_path / "b").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        create_bundle(tmp_path / "b", model=minilm)
    with pytest.raises(UsageError, match="needs a tar"):
        create_bundle(tmp_path / "c", model=minilm, split_bytes=1000)


@pytest.mark.parametrize("algo", ["ed25519", "ec"])
def test_signature_verifies_with_openssl(tmp_path: Path, minilm: Path, algo: str) -> None:
    key, pub = tmp_path / "sign.key", tmp_path / "sign.pub"
    gen = (
        ["-algorithm", "ed25519"]
        if algo == "ed25519"
        else ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
    )
    subprocess.run(["openssl", "genpkey", *gen, "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
    create_bundle(tmp_path / "b", model=minilm, sign_key=key)
    b = tmp_path / "b"
    if algo == "ed25519":
        cmd = [
            "openssl",
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            str(pub),
            "-rawin",
            "-in",
            str(b / "prai-bundle.json"),
            "-sigfile",
            str(b / "prai-bundle.json.sig"),
        ]
    else:
        cmd = [
            "openssl",
            "dgst",
            "-sha256",
            "-verify",
            str(pub),
            "-signature",
            str(b / "prai-bundle.json.sig"),
            str(b / "prai-bundle.json"),
        ]
    out = subprocess.run(cmd, capture_output=True, text=True)
    assert out.returncode == 0 and "Verified" in out.stdout, out.stdout + out.stderr
    assert verify_bundle(b, key=pub).signature.startswith("valid")
    # the same command rejects a changed manifest
    (b / "prai-bundle.json").write_bytes((b / "prai-bundle.json").read_bytes() + b" ")
    assert subprocess.run(cmd, capture_output=True).returncode != 0


def test_hf_hub_cache_snapshot_symlinks(tmp_path: Path, minilm: Path) -> None:
    """A hub cache snapshot (files are symlinks to blobs/<sha256>) is followed and checked."""
    import hashlib
    import os

    blobs, snap = tmp_path / "blobs", tmp_path / "snapshots/rev1"
    blobs.mkdir()
    snap.mkdir(parents=True)
    for f in minilm.rglob("*"):
        if f.is_file():
            rel = f.relative_to(minilm)
            (snap / rel).parent.mkdir(parents=True, exist_ok=True)
            if f.name == "model.safetensors":
                digest = hashlib.sha256(f.read_bytes()).hexdigest()
                (blobs / digest).write_bytes(f.read_bytes())
                os.symlink(f"../../blobs/{digest}", snap / rel)
            else:
                (snap / rel).write_bytes(f.read_bytes())
    res = create_bundle(tmp_path / "b", model=snap)
    assert res.manifest.model is not None and res.manifest.model.hf_cache_verified_files == 1
    assert (tmp_path / "b/model/model.safetensors").stat().st_size == (
        minilm / "model.safetensors"
    ).stat().st_size
    wrong = "0" * 64
    (blobs / digest).rename(blobs / wrong)
    os.unlink(snap / "model.safetensors")
    os.symlink(f"../../blobs/{wrong}", snap / "model.safetensors")
    with pytest.raises(BundleDigestMismatch, match="Hugging Face recorded"):
        create_bundle(tmp_path / "b2", model=snap)


def test_encrypted_sign_key(tmp_path: Path, minilm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prai.settings import get_settings

    key, pub = tmp_path / "enc.key", tmp_path / "enc.pub"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "ed25519",
            "-aes-256-cbc",
            "-pass",
            "pass:hunter2",
            "-out",
            str(key),
        ],
        check=True,
    )
    subprocess.run(
        [
            "openssl",
            "pkey",
            "-in",
            str(key),
            "-passin",
            "pass:hunter2",
            "-pubout",
            "-out",
            str(pub),
        ],
        check=True,
    )
    monkeypatch.delenv("PRAI_SIGN_KEY_PASSWORD", raising=False)
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="encrypted") as exc:
        create_bundle(tmp_path / "b", model=minilm, sign_key=key)
    assert "PRAI_SIGN_KEY_PASSWORD" in exc.value.hint
    monkeypatch.setenv("PRAI_SIGN_KEY_PASSWORD", "hunter2")
    get_settings.cache_clear()
    try:
        create_bundle(tmp_path / "b", model=minilm, sign_key=key)
    finally:
        get_settings.cache_clear()
    assert verify_bundle(tmp_path / "b", key=pub).signature == "valid (ed25519)"


def test_adapter_only_bundle_records_base_name(tmp_path: Path, adapters: dict[str, Path]) -> None:
    res = create_bundle(tmp_path / "b", model=None, adapters={"legal": adapters["legal"]})
    m = read_manifest(res.out)
    assert m.model is None
    assert {f.role for f in m.files} == {"adapter", "sbom"}  # every bundle carries an SBOM (issue 14)
    assert [(a.name, a.base_model_name_or_path, a.rank) for a in m.adapters] == [("legal", "tiny-llama", 8)]
    assert res.root_digest == root_digest((res.out / MANIFEST_NAME).read_bytes())


def test_a_bundle_needs_a_model_or_an_adapter(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="nothing to pack"):
        create_bundle(tmp_path / "b", model=None)
    assert not (tmp_path / "b").exists()
