"""`prai render --image-map`: cluster.images taken from the map `prai bundle load
--images-to` writes, instead of being typed by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prai.deploy import render
from prai.errors import ConfigError

REG = "registry.kitchen.internal:5000"
VLLM = "sha256:" + "1" * 64
PRAI = "sha256:" + "2" * 64
CAR = "sha256:" + "3" * 64


def _entry(source_repo: str, digest: str, mirror_path: str, tag: str | None = "1") -> dict[str, Any]:
    mirror = f"{REG}/{mirror_path}"
    return {"source": f"{source_repo}:{tag}@{digest}" if tag else f"{source_repo}@{digest}",
            "source_repository": source_repo, "tag": tag, "digest": digest,
            "mirror_repository": mirror, "mirror": f"{mirror}@{digest}",
            "media_type": "application/vnd.oci.image.index.v1+json",
            "platforms": ["linux/amd64"], "index_digest": None}


def _map(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    p = tmp_path / "prai-image-map.json"
    p.write_text(json.dumps({"format": "prai-image-map", "format_version": 1,
                             "bundle_root_digest": "sha256:" + "0" * 64, "registry": f"{REG}/m",
                             "created_at": "2025-01-01T00:00:00Z", "images": list(entries)}))
    return p


def _image(objects: list[tuple[str, Any]], kind: str, name: str) -> str:
    o = next(o for _, o in objects if o["kind"] == kind and o["metadata"]["name"] == name)
    spec = o["spec"]["template"]["spec"] if kind == "Deployment" else o["spec"]
    return str(spec["containers"][0]["image"])


def _drop_images(doc: dict[str, Any]) -> None:
    del doc["cluster"]["images"]


def test_images_come_from_the_map(kitchen: Callable[..., Path], crd_dir: Path,
                                  tmp_path: Path) -> None:
    imap = _map(tmp_path, _entry("quay.io/modh/vllm", VLLM, "m/modh/vllm"),
                _entry("quay.io/prai/prai", PRAI, "m/prai/prai"),
                _entry("quay.io/other/tool", CAR, "m/other/tool"))
    k = kitchen(edit=_drop_images)
    result = render(k, crd_dir=crd_dir, env={}, image_map=imap)
    assert _image(result.objects, "ServingRuntime", "tsuzumi-7b-vllm") == \
        f"{REG}/m/modh/vllm@{VLLM}"
    assert _image(result.objects, "Deployment", "prai-gateway") == f"{REG}/m/prai/prai@{PRAI}"
    idms = next(o for _, o in result.objects if o["kind"] == "ImageDigestMirrorSet")
    assert {"source": "quay.io/modh/vllm", "mirrors": [f"{REG}/m/modh/vllm"],
            "mirrorSourcePolicy": "NeverContactSource"} in idms["spec"]["imageDigestMirrors"]
    assert any("cluster.images.vllm" in n and "mirror map" in n for n in result.summary["notes"])


def test_source_only_images_and_modelcar(kitchen: Callable[..., Path], crd_dir: Path,
                                         tmp_path: Path) -> None:
    imap = _map(tmp_path, _entry("quay.io/modh/vllm", VLLM, "m/modh/vllm"),
                _entry("quay.io/modh/vllm-rocm", "sha256:" + "4" * 64, "m/modh/vllm-rocm"),
                _entry("quay.io/prai/prai", PRAI, "m/prai/prai"),
                _entry("registry.connected.example.jp/models/llama-3.1-70b-instruct", CAR,
                       "m/models/llama"))

    def edit(doc: dict[str, Any]) -> None:
        doc["cluster"]["registry"] = REG
        doc["cluster"]["images"] = {"vllm": {"source": "quay.io/modh/vllm"}}
        doc["cluster"]["models"][0]["storage"]["oci"] = {
            "source": "registry.connected.example.jp/models/llama-3.1-70b-instruct"}

    k = kitchen("kitchen-cluster-modelcar.yaml", edit=edit)
    result = render(k, crd_dir=crd_dir, env={}, image_map=imap)
    isvc = next(o for _, o in result.objects if o["kind"] == "InferenceService")
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == f"oci://{REG}/m/models/llama@{CAR}"
    assert _image(result.objects, "ServingRuntime", "llama-70b-vllm") == f"{REG}/m/modh/vllm@{VLLM}"


def test_map_errors_are_one_line_with_a_fix(kitchen: Callable[..., Path], crd_dir: Path,
                                            tmp_path: Path) -> None:
    two = _map(tmp_path, _entry("quay.io/modh/vllm", VLLM, "m/a"),
               _entry("quay.io/modh/vllm-cuda", CAR, "m/b"),
               _entry("quay.io/prai/prai", PRAI, "m/prai/prai"))
    with pytest.raises(ConfigError, match="several candidates") as exc:
        render(kitchen(edit=_drop_images), crd_dir=crd_dir, env={}, image_map=two)
    assert "cluster.images.vllm.source" in exc.value.hint
    none = _map(tmp_path, _entry("quay.io/prai/prai", PRAI, "m/prai/prai"))
    with pytest.raises(ConfigError, match=r"cluster\.images\.vllm: not in the mirror map"):
        render(kitchen(edit=_drop_images), crd_dir=crd_dir, env={}, image_map=none)
    # kitchen.yaml pins another digest than the one pushed: stale, refused
    stale = _map(tmp_path, _entry("quay.io/modh/vllm", VLLM, "rhoai/vllm"),
                 _entry("quay.io/prai/prai", PRAI, "prai/prai"))
    with pytest.raises(ConfigError, match="but the mirror map .* pushed " + VLLM):
        render(kitchen(), crd_dir=crd_dir, env={}, image_map=stale)
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(ConfigError, match="not a prai-image-map file"):
        render(kitchen(), crd_dir=crd_dir, env={}, image_map=tmp_path / "bad.json")
