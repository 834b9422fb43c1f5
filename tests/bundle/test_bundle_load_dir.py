"""prai bundle load --to DIR: atomic, resumable, readable by OpenShift's arbitrary UID."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from prai.bundle import create_bundle, load_bundle
from prai.bundle.load_dir import STAGING, check_readable
from prai.errors import (
    BundleDigestMismatch,
    BundleExtraFile,
    BundleLoadError,
    BundleSignatureError,
    UsageError,
)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_load_minilm_tar_to_dir(tmp_path: Path, minilm: Path) -> None:
    create_bundle(tmp_path / "b.tar", model=minilm, split_bytes=30 * 1024 * 1024)
    dest = tmp_path / "pvc"
    res = load_bundle(tmp_path / "b.tar.parts.json", str(dest))
    assert res.written == 14 and res.skipped == 0  # 13 model files + the SBOM
    assert res.location == str(dest / "model")
    assert _tree(dest / "model") == {k: v for k, v in _tree(minilm).items()}
    assert not (dest / STAGING).exists()
    for p in (dest / "model").rglob("*"):
        mode = p.stat().st_mode
        assert mode & (stat.S_IRGRP | stat.S_IROTH), p
        if os.geteuid() == 0:
            assert p.stat().st_gid == 0
    # the arbitrary-UID read test (real when running as root)
    assert check_readable(dest, list((dest / "model").rglob("*.json"))) == []
    # idempotent: nothing copied again
    again = load_bundle(tmp_path / "b.tar", str(dest))
    assert again.written == 0 and again.skipped == 14  # 13 + the SBOM


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    dest = tmp_path / "d"
    dest.mkdir()
    f = dest / "secret.bin"
    f.write_bytes(b"x")
    os.chmod(dest, 0o755)
    os.chmod(f, 0o600)
    os.chown(f, 0, 12345) if os.geteuid() == 0 else None
    assert check_readable(dest, [f]) != []
    os.chmod(f, 0o644)
    assert check_readable(dest, [f]) == []


def test_only_and_adapters(tmp_path: Path, tiny_llama: Path, adapters: dict[str, Path]) -> None:
    create_bundle(tmp_path / "b", model=tiny_llama, adapters=adapters)
    dest = tmp_path / "store"
    res = load_bundle(tmp_path / "b", str(dest), only="faq")
    assert sorted(p.name for p in (dest / "adapters").iterdir()) == ["faq"]
    assert not (dest / "model").exists() and res.written == 2
    load_bundle(tmp_path / "b", str(dest), only="adapters")
    assert sorted(p.name for p in (dest / "adapters").iterdir()) == ["faq", "legal"]
    load_bundle(tmp_path / "b", str(dest), only="model")
    assert (dest / "model/config.json").is_file()
    with pytest.raises(UsageError, match="selects nothing"):
        load_bundle(tmp_path / "b", str(dest), only="nope")


def test_resume_after_interruption(tmp_path: Path, tiny_llama: Path) -> None:
    create_bundle(tmp_path / "b", model=tiny_llama)
    dest = tmp_path / "pvc"
    load_bundle(tmp_path / "b", str(dest))
    # simulate a load of a newer bundle interrupted half way: staged files + a .partial
    (dest / "model").rename(tmp_path / "old-model")
    stage = dest / STAGING / "model"
    stage.mkdir(parents=True)
    for name in ("config.json", "model-00001-of-00002.safetensors"):
        (stage / name).write_bytes((tmp_path / "old-model" / name).read_bytes())
    (stage / "tokenizer.json.partial").write_bytes(b"half")
    res = load_bundle(tmp_path / "b", str(dest))
    assert res.skipped == 3 and res.written == 5  # 2 staged + the SBOM unit in place
    assert _tree(dest / "model") == _tree(tmp_path / "old-model")
    assert not (dest / STAGING).exists()


def test_replaces_changed_model_atomically(tmp_path: Path, tiny_llama: Path) -> None:
    create_bundle(tmp_path / "b", model=tiny_llama)
    dest = tmp_path / "pvc"
    load_bundle(tmp_path / "b", str(dest))
    (dest / "model/config.json").write_text("{}")
    (dest / "model/stray.txt").write_text("left over")
    res = load_bundle(tmp_path / "b", str(dest))
    assert res.written == 1  # only the changed file is copied; the rest are linked
    assert _tree(dest / "model") == _tree(tiny_llama)


def test_bad_bundle_writes_nothing(tmp_path: Path, tiny_llama: Path, pki) -> None:  # type: ignore[no-untyped-def]
    create_bundle(tmp_path / "b", model=tiny_llama, sign_key=pki.sign_key)
    dest = tmp_path / "pvc"
    dest.mkdir()
    shard = tmp_path / "b/model/model-00002-of-00002.safetensors"
    good = shard.read_bytes()
    shard.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(BundleDigestMismatch, match=r"model-00002-of-00002\.safetensors"):
        load_bundle(tmp_path / "b", str(dest))
    assert list(dest.iterdir()) == []
    shard.write_bytes(good)
    (tmp_path / "b/model/extra.bin").write_bytes(b"?")
    with pytest.raises(BundleExtraFile):
        load_bundle(tmp_path / "b", str(dest))
    (tmp_path / "b/model/extra.bin").unlink()
    other = tmp_path / "other.pub"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    other.write_bytes(
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(BundleSignatureError):
        load_bundle(tmp_path / "b", str(dest), key=other)
    assert list(dest.iterdir()) == []
    load_bundle(tmp_path / "b", str(dest), key=pki.sign_pub)
    assert (dest / "model/config.json").is_file()


def test_never_writes_through_symlinks(tmp_path: Path, tiny_llama: Path) -> None:
    create_bundle(tmp_path / "b", model=tiny_llama)
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "pvc"
    dest.mkdir()
    os.symlink(outside, dest / "model")
    with pytest.raises(BundleLoadError, match="symbolic link"):
        load_bundle(tmp_path / "b", str(dest))
    assert list(outside.iterdir()) == []
    os.unlink(dest / "model")
    os.symlink(outside, dest / STAGING)
    with pytest.raises(BundleLoadError, match="symbolic link"):
        load_bundle(tmp_path / "b", str(dest))
    assert list(outside.iterdir()) == []


def test_dest_errors(tmp_path: Path, tiny_llama: Path) -> None:
    create_bundle(tmp_path / "b", model=tiny_llama)
    (tmp_path / "file").write_text("x")
    with pytest.raises(BundleLoadError, match="not a directory"):
        load_bundle(tmp_path / "b", str(tmp_path / "file"))
    with pytest.raises(BundleLoadError, match="does not exist"):
        load_bundle(tmp_path / "b", str(tmp_path / "no/such/dir"))
    with pytest.raises(UsageError, match="unknown scheme"):
        load_bundle(tmp_path / "b", "ftp://x/y")


def test_evil_tar_writes_nothing(tmp_path: Path) -> None:
    import io
    import tarfile

    from prai.errors import BundleUnsafePath

    with tarfile.open(tmp_path / "evil.tar", "w") as tf:
        tf.addfile(tarfile.TarInfo("prai-bundle.json"), io.BytesIO(b""))
        ti = tarfile.TarInfo("model/../../../escape.txt")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    dest = tmp_path / "pvc"
    dest.mkdir()
    with pytest.raises(BundleUnsafePath):
        load_bundle(tmp_path / "evil.tar", str(dest))
    assert list(dest.iterdir()) == [] and not (tmp_path / "escape.txt").exists()


def test_selinux_advice() -> None:
    from prai.bundle.load_dir import selinux_advice, selinux_warning

    d = Path("/var/models/download")
    warn = selinux_advice(d, "unconfined_u:object_r:var_t:s0", enforcing=True)
    assert warn is not None and "chcon -R -t container_file_t /var/models/download" in warn
    assert selinux_advice(d, "system_u:object_r:container_file_t:s0", enforcing=True) is None
    assert selinux_advice(d, "unconfined_u:object_r:var_t:s0", enforcing=False) is None
    assert selinux_warning(Path("/tmp")) is None  # no SELinux on this host
