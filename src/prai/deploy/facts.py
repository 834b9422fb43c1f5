"""Facts about the brought-in model and adapters, read from their directories.

The renderer needs: config.json (GPU fit), the weight bytes (GPU fit, PVC size), every
adapter's rank, base model and target modules (``adapter_config.json``, PEFT's format).
Only these small JSON files are required; weight files may be absent on the machine that
renders, in which case the safetensors index's ``metadata.total_size`` gives the size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from prai.errors import ModelFactsError


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFactsError(f"{path}: no {what} here") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelFactsError(f"{path}: cannot read {what} ({type(exc).__name__})") from None
    except json.JSONDecodeError as exc:
        raise ModelFactsError(f"{path}: {what} is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise ModelFactsError(f"{path}: {what} must be a JSON object")
    return data


def _tree_bytes(root: Path) -> tuple[int, int]:
    """(all file bytes, safetensors bytes) below root; symlinks are not followed."""
    total = weights = 0
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            n = p.stat().st_size
            total += n
            if p.suffix == ".safetensors":
                weights += n
    return total, weights


@dataclass(frozen=True)
class ModelFacts:
    """What the renderer knows about a base model directory.

    Attributes:
        path: the directory read.
        config: parsed config.json.
        weight_bytes: total weight bytes (safetensors index total_size, else the sum of
            *.safetensors sizes); None when neither is present (then estimated).
        total_bytes: bytes the model occupies on the volume (files present, plus weight
            files named by the index but absent here).
        names: names this model is known by (config ``_name_or_path``, the directory name).
    """

    path: Path
    config: dict[str, Any]
    weight_bytes: int | None
    total_bytes: int
    names: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class AdapterFacts:
    """What adapter_config.json says about a LoRA adapter (PEFT format).

    Attributes:
        rank: ``r``.
        base_model: ``base_model_name_or_path`` ("" when absent).
        target_modules: module names the adapter modifies.
        total_bytes: bytes of the adapter directory.
    """

    path: Path
    rank: int
    base_model: str
    target_modules: tuple[str, ...]
    total_bytes: int


def read_model_facts(model_dir: Path) -> ModelFacts:
    """Read a model directory's config.json and sizes.

    Raises:
        ModelFactsError: the directory or config.json is missing or unreadable.
    """
    if not model_dir.is_dir():
        raise ModelFactsError(f"{model_dir}: model directory not found")
    config = _read_json(model_dir / "config.json", "config.json")
    total, weights = _tree_bytes(model_dir)
    weight_bytes: int | None = weights or None
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        meta = _read_json(index, "safetensors index").get("metadata") or {}
        size = meta.get("total_size") if isinstance(meta, dict) else None
        if isinstance(size, int) and size > 0:
            # total_size counts tensor bytes only; shard headers are small. Files absent
            # here still occupy the volume in the cluster.
            if size > weights:
                total += size - weights
            weight_bytes = max(size, weights)
    names = {model_dir.resolve().name}
    nop = config.get("_name_or_path")
    if isinstance(nop, str) and nop:
        names.add(nop)
    return ModelFacts(model_dir, config, weight_bytes, total, tuple(sorted(names)))


def read_adapter_facts(adapter_dir: Path) -> AdapterFacts:
    """Read a PEFT LoRA adapter's adapter_config.json.

    Raises:
        ModelFactsError: missing/unreadable file, or no positive integer ``r``.
    """
    if not adapter_dir.is_dir():
        raise ModelFactsError(f"{adapter_dir}: adapter directory not found")
    path = adapter_dir / "adapter_config.json"
    cfg = _read_json(path, "adapter_config.json")
    rank = cfg.get("r")
    if not isinstance(rank, int) or rank <= 0:
        raise ModelFactsError(f"{path}: 'r' (the LoRA rank) is missing or not a positive integer")
    targets = cfg.get("target_modules") or []
    if isinstance(targets, str):
        targets = [targets]
    total, _ = _tree_bytes(adapter_dir)
    return AdapterFacts(
        path=adapter_dir,
        rank=rank,
        base_model=str(cfg.get("base_model_name_or_path") or ""),
        target_modules=tuple(sorted(str(t) for t in targets)),
        total_bytes=total,
    )


def read_bundle_facts(bundle: Path) -> tuple[ModelFacts, dict[str, AdapterFacts]]:
    """Model and adapter facts from a ``prai bundle`` directory's manifest.

    Sizes come from the manifest (every file, present here or not); config.json is read
    from the bundle directory (a .tar must be unpacked first). Adapter facts are the
    manifest's (``rank``, ``base_model_name_or_path``, ``target_modules``), which the
    bundle recorded from each adapter_config.json.

    Raises:
        BundleError: no bundle or an invalid manifest (from prai.bundle.read_manifest).
        ModelFactsError: the manifest has no model, or config.json is not readable.
    """
    from prai.bundle import read_manifest

    manifest = read_manifest(bundle)
    if manifest.model is None:
        raise ModelFactsError(f"{bundle}: the bundle holds no model (role model)")
    if not bundle.is_dir():
        raise ModelFactsError(f"{bundle}: render reads config.json from a bundle directory; "
                              "unpack the .tar first (tar -xf)")
    mpath = manifest.model.path.strip("/")
    config = _read_json(bundle / mpath / "config.json", "config.json")
    model_files = [f for f in manifest.files if f.role == "model"]
    weights = sum(f.size for f in model_files if f.path.endswith(".safetensors"))
    names = {manifest.model.name, PurePosixPath(mpath).name}
    nop = config.get("_name_or_path")
    if isinstance(nop, str) and nop:
        names.add(nop)
    model = ModelFacts(bundle / mpath, config, weights or None,
                       sum(f.size for f in model_files), tuple(sorted(n for n in names if n)))
    adapters: dict[str, AdapterFacts] = {}
    for a in manifest.adapters:
        if not a.rank:
            continue
        prefix = a.path.strip("/") + "/"
        adapters[a.name] = AdapterFacts(
            path=bundle / a.path,
            rank=a.rank,
            base_model=a.base_model_name_or_path or "",
            target_modules=tuple(sorted(a.target_modules)),
            total_bytes=sum(f.size for f in manifest.files
                            if f.role == "adapter" and f.path.startswith(prefix)),
        )
    return model, adapters


def same_model(name: str, known: set[str]) -> bool:
    """Whether ``name`` (a hub id or a path) names one of ``known`` (ids, paths or basenames).

    Comparison is on the last path component, case-insensitive: ``/models/tsuzumi-7b``,
    ``nttcslab/tsuzumi-7b`` and ``tsuzumi-7b`` are the same model.
    """

    def base(s: str) -> str:
        return s.rstrip("/").rsplit("/", 1)[-1].lower()

    return base(name) in {base(k) for k in known if k}


__all__ = [
    "AdapterFacts",
    "ModelFacts",
    "read_adapter_facts",
    "read_bundle_facts",
    "read_model_facts",
    "same_model",
]
