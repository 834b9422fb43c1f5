"""prai bundle verify: every bad input gives its own error naming the file, and exit code."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from prai.bundle import create_bundle, verify_bundle
from prai.errors import (
    BundleDigestMismatch,
    BundleExtraFile,
    BundleManifestError,
    BundleMissingFile,
    BundlePartError,
    BundleSignatureError,
    BundleSizeMismatch,
    BundleUnsafePath,
)

PRAI = [sys.executable, "-m", "prai.cli.main"]


@pytest.fixture
def bundle(tmp_path: Path, tiny_llama: Path, adapters: dict[str, Path]) -> Path:
    create_bundle(tmp_path / "b", model=tiny_llama, adapters=adapters)
    return tmp_path / "b"


def _prai(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRAI, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )


def test_intact_bundle_cli_json(bundle: Path) -> None:
    out = _prai("bundle", "verify", str(bundle), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["ok"] and all(f["status"] == "ok" for f in data["files"])
    assert len(data["files"]) == 12  # 11 + the SBOM


SHARD = "model/model-00001-of-00002.safetensors"


@pytest.mark.parametrize(
    "damage,err,code,status",
    [
        ("missing", BundleMissingFile, 10, "missing"),
        ("extra", BundleExtraFile, 11, "extra"),
        ("corrupted", BundleDigestMismatch, 12, "corrupted"),
        ("truncated", BundleSizeMismatch, 13, "truncated"),
    ],
)
def test_file_damage(bundle: Path, damage: str, err: type, code: int, status: str) -> None:
    target = bundle / SHARD
    if damage == "missing":
        target.unlink()
    elif damage == "extra":
        target = bundle / "adapters/faq/notes.txt"
        target.write_text("added later")
    elif damage == "corrupted":
        data = bytearray(target.read_bytes())
        data[-5] ^= 0xFF
        target.write_bytes(bytes(data))
    else:
        target.write_bytes(target.read_bytes()[:-1000])
    report = verify_bundle(bundle)
    assert not report.ok
    assert isinstance(report.problems[0], err)
    rel = target.relative_to(bundle).as_posix()
    assert rel in str(report.problems[0])
    assert {f.path: f.status for f in report.files}[rel] == status
    out = _prai("bundle", "verify", str(bundle))
    assert out.returncode == code
    assert f"error: {rel}" in out.stderr and "hint:" in out.stderr
    assert "Traceback" not in out.stderr
    data = json.loads(_prai("bundle", "verify", str(bundle), "--json").stdout)
    assert data["exit_code"] == code and data["problems"][0]["type"] == err.__name__


def test_tampered_manifest(bundle: Path, pki) -> None:  # type: ignore[no-untyped-def]
    manifest = bundle / "prai-bundle.json"
    original = manifest.read_bytes()
    root = verify_bundle(bundle).root_digest
    # edited manifest alone: SHA256SUMS disagrees
    data = json.loads(original)
    data["files"][0]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(data))
    with pytest.raises(BundleManifestError, match="SHA256SUMS does not match"):
        verify_bundle(bundle)
    assert _prai("bundle", "verify", str(bundle)).returncode == 14
    # edited consistently (manifest + sums): caught by the root digest carried out of band
    data = json.loads(original)
    data["model"]["name"] = "someone-else"
    manifest.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
    assert verify_bundle(bundle).ok  # no root digest, no key: nothing to compare with
    with pytest.raises(BundleManifestError, match="root digest"):
        verify_bundle(bundle, expected_root=root)
    out = _prai("bundle", "verify", str(bundle), "--root-digest", str(root))
    assert out.returncode == 14
    manifest.write_text("{not json")
    with pytest.raises(BundleManifestError, match="not valid JSON"):
        verify_bundle(bundle)


def test_signature(tmp_path: Path, tiny_llama: Path, pki) -> None:  # type: ignore[no-untyped-def]
    create_bundle(tmp_path / "s", model=tiny_llama, sign_key=pki.sign_key)
    create_bundle(tmp_path / "u", model=tiny_llama)
    assert verify_bundle(tmp_path / "s", key=pki.sign_pub).signature == "valid (ecdsa-secp256r1)"
    with pytest.raises(BundleSignatureError, match=r"no prai-bundle\.json\.sig"):
        verify_bundle(tmp_path / "u", key=pki.sign_pub)
    other = tmp_path / "other.pub"
    subprocess.run(
        ["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(tmp_path / "o.key")], check=True
    )
    subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "o.key"), "-pubout", "-out", str(other)],
        check=True,
    )
    with pytest.raises(BundleSignatureError, match="not a valid signature"):
        verify_bundle(tmp_path / "s", key=other)
    # manifest and sums rewritten consistently: the signature no longer matches
    m = tmp_path / "s/prai-bundle.json"
    data = json.loads(m.read_text())
    data["warnings"] = ["harmless?"]
    m.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
    with pytest.raises(BundleSignatureError):
        verify_bundle(tmp_path / "s", key=pki.sign_pub)
    out = _prai("bundle", "verify", str(tmp_path / "s"), "--key", str(pki.sign_pub))
    assert out.returncode == 15 and "signature" in out.stderr


def test_tar_damage(tmp_path: Path, tiny_llama: Path) -> None:
    create_bundle(tmp_path / "b.tar", model=tiny_llama)
    with tarfile.open(tmp_path / "b.tar") as tf:
        member = tf.getmember(SHARD)
    data = bytearray((tmp_path / "b.tar").read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    (tmp_path / "bad.tar").write_bytes(bytes(data))
    report = verify_bundle(tmp_path / "bad.tar")
    assert isinstance(report.problems[0], BundleDigestMismatch)
    assert SHARD in str(report.problems[0])
    (tmp_path / "cut.tar").write_bytes(bytes(data[: member.offset_data + 100]))
    out = _prai("bundle", "verify", str(tmp_path / "cut.tar"))
    assert out.returncode == 13 and "cut.tar is truncated" in out.stderr, out.stderr


def test_parts_missing_and_corrupted(tmp_path: Path, tiny_llama: Path) -> None:
    create_bundle(tmp_path / "p.tar", model=tiny_llama, split_bytes=100_000)
    parts = sorted(tmp_path.glob("p.tar.part-*"))
    assert len(parts) >= 4
    data = bytearray(parts[2].read_bytes())
    data[5000] ^= 0xFF
    parts[2].write_bytes(bytes(data))
    report = verify_bundle(tmp_path / "p.tar.parts.json")
    assert isinstance(report.problems[0], BundlePartError)
    assert parts[2].name in str(report.problems[0])
    out = _prai("bundle", "verify", str(tmp_path / "p.tar.parts.json"))
    assert out.returncode == 16 and parts[2].name in out.stderr
    parts[1].unlink()
    with pytest.raises(BundlePartError, match=f"part {parts[1].name} is missing"):
        verify_bundle(tmp_path / "p.tar")
    assert _prai("bundle", "verify", str(tmp_path / "p.tar")).returncode == 16


def _evil_tar(path: Path, member: tarfile.TarInfo, payload: bytes = b"x") -> None:
    with tarfile.open(path, "w") as tf:
        tf.addfile(tarfile.TarInfo("prai-bundle.json"), io.BytesIO(b""))
        if member.isreg():
            member.size = len(payload)
            tf.addfile(member, io.BytesIO(payload))
        else:
            tf.addfile(member)


@pytest.mark.parametrize(
    "name,kind",
    [
        ("../escape.txt", "reg"),
        ("/etc/cron.d/evil", "reg"),
        ("model/../../x", "reg"),
        ("model/link", "sym"),
        ("model/hard", "lnk"),
    ],
)
def test_unsafe_tar_members(tmp_path: Path, name: str, kind: str) -> None:
    ti = tarfile.TarInfo(name)
    if kind == "sym":
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "lnk":
        ti.type, ti.linkname = tarfile.LNKTYPE, "prai-bundle.json"
    _evil_tar(tmp_path / "evil.tar", ti)
    with pytest.raises(BundleUnsafePath):
        verify_bundle(tmp_path / "evil.tar")
    assert _prai("bundle", "verify", str(tmp_path / "evil.tar")).returncode == 17


def test_symlink_in_bundle_dir(bundle: Path, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(tmp_path / "outside.txt", bundle / "model/innocent.txt")
    with pytest.raises(BundleUnsafePath, match="symbolic link"):
        verify_bundle(bundle)


def test_manifest_with_traversal_path(bundle: Path) -> None:
    m = bundle / "prai-bundle.json"
    data = json.loads(m.read_text())
    data["files"][0]["path"] = "../../etc/passwd"
    m.write_text(json.dumps(data))
    with pytest.raises(BundleUnsafePath):
        verify_bundle(bundle)


def test_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = _prai("bundle", "verify", str(tmp_path / "empty"))
    assert out.returncode == 14 and "no prai-bundle.json" in out.stderr
    out = _prai("bundle", "verify", str(tmp_path / "nothing-here"))
    # a path that does not exist is a usage error for every command (issue 18: exit 2, named as missing)
    assert out.returncode == 2 and "no such file or directory" in out.stderr
