"""The `prai bundle` commands as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prai.bundle import verify_bundle
from prai.kitchen.bring_in import demo_roundtrip

PRAI = [sys.executable, "-m", "prai.cli.main"]


def _prai(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRAI, *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def test_create_inspect_verify_load(
    tmp_path: Path, tiny_llama: Path, adapters: dict[str, Path], pki
) -> None:  # type: ignore[no-untyped-def]
    out = _prai(
        "bundle",
        "create",
        "-o",
        tmp_path / "b.tar",
        "--model",
        tiny_llama,
        "--adapter",
        f"faq={adapters['faq']}",
        "--adapter",
        f"legal={adapters['legal']}",
        "--ca",
        pki.ca_cert,
        "--image-ref-only",
        "quay.io/modh/vllm:latest",
        "--sign-key",
        pki.sign_key,
        "--split-size",
        "200KB",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    assert created["kind"] == "parts" and created["root_digest"].startswith("sha256:")
    assert any("no digest" in w for w in created["warnings"])
    ins = _prai("bundle", "inspect", tmp_path / "b.tar", "--json")
    assert ins.returncode == 0, ins.stderr
    data = json.loads(ins.stdout)
    assert data["root_digest"] == created["root_digest"] and data["signed"]
    assert data["manifest"]["cas"][0]["subject"] == "CN=PrAI Test Root CA,O=PrAI Test"
    assert [a["name"] for a in data["manifest"]["adapters"]] == ["faq", "legal"]
    text = _prai("bundle", "inspect", tmp_path / "b.tar.parts.json")
    assert "LlamaForCausalLM" in text.stdout and "adapter legal: r=8" in text.stdout
    ver = _prai(
        "bundle",
        "verify",
        tmp_path / "b.tar",
        "--key",
        pki.sign_pub,
        "--root-digest",
        created["root_digest"],
    )
    assert ver.returncode == 0 and "signature: valid (ecdsa-secp256r1)" in ver.stdout
    load = _prai(
        "bundle",
        "load",
        tmp_path / "b.tar",
        "--to",
        tmp_path / "pvc",
        "--only",
        "model",
        "--key",
        pki.sign_pub,
        "--json",
    )
    assert load.returncode == 0, load.stderr
    res = json.loads(load.stdout)
    assert res["written"] == 7 and res["location"] == str(tmp_path / "pvc" / "model")


def test_create_refuses_incomplete_model(tmp_path: Path, tiny_llama: Path) -> None:
    (tiny_llama / "model-00002-of-00002.safetensors").unlink()
    out = _prai("bundle", "create", "-o", tmp_path / "b", "--model", tiny_llama)
    assert out.returncode == 4
    assert "model-00002-of-00002.safetensors is missing" in out.stderr and "hint:" in out.stderr
    assert not (tmp_path / "b").exists()
    bad = _prai("bundle", "create", "-o", tmp_path / "b", "--model", tiny_llama, "--adapter", "x")
    assert bad.returncode == 2 and "NAME=DIR" in bad.stderr


def test_demo_roundtrip(tmp_path: Path, tiny_llama: Path, adapters: dict[str, Path]) -> None:
    rt = demo_roundtrip(tiny_llama, adapters, tmp_path / "work")
    assert rt.model_dir == tmp_path / "work/store/model"
    assert (rt.model_dir / "config.json").read_bytes() == (tiny_llama / "config.json").read_bytes()
    assert (rt.adapter_dirs["legal"] / "adapter_model.safetensors").is_file()
    assert rt.verify.ok and verify_bundle(rt.bundle).root_digest == rt.root_digest
    again = demo_roundtrip(tiny_llama, adapters, tmp_path / "work")
    assert again.load.written == 0  # rerun copies nothing


@pytest.mark.parametrize(
    ("names", "needle"),
    [
        (("--model", "Notes.md", "notes.md"), "differ only by case"),
        (("--other", "caf\u00e9.txt", "cafe\u0301.txt"), "differ only by Unicode normalisation"),
    ],
    ids=["case-in-model-dir", "nfc-nfd-other-files"],
)
@pytest.mark.parametrize("out_name", ["b", "b.tar"])
def test_create_refuses_names_that_are_one_on_windows_or_macos(
    tmp_path: Path, tiny_llama: Path, names: tuple[str, str, str], needle: str, out_name: str
) -> None:
    """Distinct on Linux, one file on NTFS/APFS: refused before anything is written (17)."""
    flag, first, second = names
    args: list[object] = ["bundle", "create", "-o", tmp_path / "out" / out_name, "--model", tiny_llama]
    if flag == "--model":
        (tiny_llama / first).write_text("one\n")
        (tiny_llama / second).write_text("two\n")
    else:
        for i, name in enumerate((first, second)):
            (tmp_path / f"in{i}").mkdir()
            (tmp_path / f"in{i}" / name).write_text(f"file {i}\n")
            args += ["--other", tmp_path / f"in{i}" / name]
    (tmp_path / "out").mkdir()
    out = _prai(*map(str, args))
    assert out.returncode == 17, out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: rename")
    assert needle in lines[0] and "Traceback" not in out.stderr
    assert list((tmp_path / "out").iterdir()) == []  # no bundle, no staging or partial files
