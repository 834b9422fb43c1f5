"""Render from a `prai bundle` directory: sizes and adapter facts from its manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from prai.deploy import render
from prai.errors import AdapterRankTooLarge, ModelFactsError
from tests.deploy._deploy_util import EXAMPLES, model0

GIB = 1024**3


def _bundle(root: Path, adapters: dict[str, tuple[int, str]]) -> Path:
    """A bundle directory as `prai bundle create` lays it out (manifest + SHA256SUMS).

    The weight shard is listed with its real size in the manifest but not present here
    (render reads sizes from the manifest, and config.json from the directory).
    """
    from prai.bundle.manifest import (
        FileEntry,
        Manifest,
        ManifestAdapter,
        ManifestModel,
        dump_manifest,
        render_sums,
    )

    root.mkdir(parents=True)
    files: list[FileEntry] = []

    def put(rel: str, data: bytes, role: str, name: str) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        files.append(FileEntry(role=role, name=name, path=rel, size=len(data),  # type: ignore[arg-type]
                               sha256=hashlib.sha256(data).hexdigest()))

    put("model/config.json", (EXAMPLES / "cluster/model/config.json").read_bytes(), "model",
        "tsuzumi-7b")
    files.append(FileEntry(role="model", name="tsuzumi-7b", path="model/model.safetensors",
                           size=20 * GIB, sha256="0" * 64))
    facts = []
    for name, (rank, base) in adapters.items():
        cfg = {"r": rank, "base_model_name_or_path": base, "target_modules": ["q_proj"]}
        put(f"adapters/{name}/adapter_config.json", json.dumps(cfg).encode(), "adapter", name)
        files.append(FileEntry(role="adapter", name=name,
                               path=f"adapters/{name}/adapter_model.safetensors",
                               size=GIB, sha256="1" * 64))
        facts.append(ManifestAdapter(name=name, path=f"adapters/{name}", rank=rank,
                                  base_model_name_or_path=base, target_modules=["q_proj"]))
    m = Manifest(created_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC), created_by="test",
                 files=files, model=ManifestModel(name="tsuzumi-7b", path="model"),
                 adapters=facts)
    (root / "prai-bundle.json").write_bytes(dump_manifest(m))
    (root / "SHA256SUMS").write_bytes(render_sums(m))
    return root


def _use_bundle(doc: dict[str, Any]) -> None:
    m = model0(doc)
    del m["local_dir"]
    m["bundle"] = "bundle"
    for a in m["adapters"]:
        del a["local_dir"]


def test_pvc_and_adapters_from_the_manifest(kitchen, crd_dir: Path) -> None:
    k = kitchen(edit=_use_bundle)
    _bundle(k.parent / "bundle", {"legal": (16, "tsuzumi-7b"), "support": (32, "tsuzumi-7b")})
    result = render(k, crd_dir=crd_dir, env={})
    objs = {o["kind"]: o for _, o in result.objects}
    # 20 GiB weights + 2 x 1 GiB adapters (+ small JSON files), +30 % -> 29 GiB
    assert objs["PersistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "29Gi"
    args = objs["InferenceService"]["spec"]["predictor"]["model"]["args"]
    assert "--max-lora-rank=32" in args
    fit = result.summary["models"][0]["gpu_fit"]
    assert fit["weights_source"] == "safetensors" and fit["weight_bytes"] == 20 * GIB


def test_bundle_adapter_rank_is_checked(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        _use_bundle(doc)
        model0(doc)["vllm"]["max_lora_rank"] = 16

    k = kitchen(edit=edit)
    _bundle(k.parent / "bundle", {"legal": (16, "tsuzumi-7b"), "support": (64, "tsuzumi-7b")})
    with pytest.raises(AdapterRankTooLarge, match="support has LoRA rank 64"):
        render(k, crd_dir=crd_dir, env={})


def test_adapter_missing_from_bundle(kitchen, crd_dir: Path) -> None:
    k = kitchen(edit=_use_bundle)
    _bundle(k.parent / "bundle", {"legal": (16, "tsuzumi-7b")})
    with pytest.raises(ModelFactsError, match=r"adapters\[support\]: not in the bundle manifest "
                       r"\(it has: legal\)"):
        render(k, crd_dir=crd_dir, env={})
