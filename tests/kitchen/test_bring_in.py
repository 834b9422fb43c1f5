"""The demo's bring-in step for a new adapter version (prai.kitchen.bring_in): pack it alone,
verify, load, for a base already inside.

Small real adapters (numpy + safetensors, no torch); the trained demo adapters go the same
way in test_bundle_demo_model.py. `prai bundle verify` runs as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prai.bundle import verify_bundle
from prai.bundle.manifest import MANIFEST_NAME, root_digest
from prai.errors import AdapterError, BundleError
from prai.kitchen.bring_in import demo_adapter_roundtrip
from tests.bundle.bundle_fixtures import build_adapter

PRAI = [sys.executable, "-m", "prai.cli.main"]


def _prai(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PRAI, *map(str, args)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )


def test_adapter_roundtrip_verify_and_tamper(tmp_path: Path, tiny_llama: Path, adapters: dict[str, Path]) -> None:
    src = adapters["legal"]
    rt = demo_adapter_roundtrip("legal", src, tmp_path / "work", base_model_dir=tiny_llama)
    assert rt.adapter_dir == tmp_path / "work" / "store" / "adapters" / "legal"
    for f in src.iterdir():
        assert (rt.adapter_dir / f.name).read_bytes() == f.read_bytes()
    assert not (rt.store / "model").exists()  # the base is not carried again
    assert rt.root_digest == root_digest((rt.bundle / MANIFEST_NAME).read_bytes())

    ok = _prai("bundle", "verify", rt.bundle, "--root-digest", rt.root_digest)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    weights = rt.bundle / "adapters" / "legal" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight: same size, other digest
    weights.write_bytes(bytes(data))
    bad = _prai("bundle", "verify", rt.bundle, "--root-digest", rt.root_digest)
    assert bad.returncode != 0
    assert "adapters/legal/adapter_model.safetensors" in bad.stdout + bad.stderr
    assert "Traceback" not in bad.stderr


def test_adapter_roundtrip_rerun_reuses_the_store(tmp_path: Path, adapters: dict[str, Path]) -> None:
    first = demo_adapter_roundtrip("faq", adapters["faq"], tmp_path / "work")
    again = demo_adapter_roundtrip("faq", adapters["faq"], tmp_path / "work")
    assert again.adapter_dir == first.adapter_dir and again.load.written == 0


def test_adapter_that_does_not_fit_the_base_is_refused(tmp_path: Path, tiny_llama: Path) -> None:
    wide = build_adapter(tmp_path / "wide", in_dim=96)  # trained for another hidden size
    with pytest.raises(AdapterError, match="another model size"):
        demo_adapter_roundtrip("wide", wide, tmp_path / "work", base_model_dir=tiny_llama)
    assert not (tmp_path / "work").exists()


def test_tampered_manifest_is_refused_by_root_digest(tmp_path: Path, adapters: dict[str, Path]) -> None:
    rt = demo_adapter_roundtrip("faq", adapters["faq"], tmp_path / "work")
    manifest = json.loads((rt.bundle / MANIFEST_NAME).read_text())
    manifest["adapters"][0]["base_model_name_or_path"] = "someone-else"
    (rt.bundle / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    bad = _prai("bundle", "verify", rt.bundle, "--root-digest", rt.root_digest)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    with pytest.raises(BundleError):
        verify_bundle(rt.bundle, expected_root=rt.root_digest).raise_for_problems()
