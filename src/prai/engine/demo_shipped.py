"""The demo model's weights as shipped with PrAI: package data checked against the recipe.

:mod:`prai.engine.demo_model` trains the demo model and its adapters from the recipe (the
corpus and the builder's settings, digested by :func:`~prai.engine.demo_model.recipe_key`).
Training takes minutes on two cores (tens of minutes on a busy machine), so PrAI ships what
the builder produced, 1.6 MiB, in ``prai/engine/demo_weights/``::

    demo_weights/MANIFEST.json   {"recipe_key", "builder_version", "built_with": {torch,
                                  transformers, peft, tokenizers}, "files": {PATH: {"sha256",
                                  "size"}}}
    demo_weights/base/…  adapters/kansai/…  adapters/samurai/…  adapters-v2/kansai/…

The shipped weights are used only when the manifest's recipe key equals the current
recipe's and every file matches its SHA-256 (:func:`shipped_weights`); otherwise the demo
builds them (and says why). ``tests/engine/test_demo_weights.py`` checks that the shipped
files still come from the recipe (the tokenizer bit-exact on every run, the whole build
with ``PRAI_TEST_REBUILD_DEMO=1``).

Refresh them after changing the recipe (needs the ``cpu`` extra)::

    python -m prai.engine.demo_refresh --refresh
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

SHIPPED_DIR = Path(__file__).with_name("demo_weights")
MANIFEST = "MANIFEST.json"
_TRAINING_STACK = ("torch", "transformers", "peft", "tokenizers")


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(root: Path = SHIPPED_DIR) -> dict[str, Any] | None:
    """The shipped manifest, or None when there is none (or it is not JSON)."""
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_shipped(key: str, root: Path = SHIPPED_DIR) -> tuple[dict[str, Any] | None, str]:
    """(manifest, "") when the shipped weights are for recipe ``key``
    (:func:`prai.engine.demo_model.recipe_key`) and intact, else (None, why).

    Every listed file must exist with its size and SHA-256 (1.6 MiB: a few milliseconds).
    """
    manifest = read_manifest(root)
    if manifest is None:
        return None, f"no shipped weights ({root / MANIFEST} is missing)"
    if manifest.get("recipe_key") != key:
        return None, f"the shipped weights are for recipe {manifest.get('recipe_key')}, this recipe is {key}"
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return None, "the shipped manifest lists no files"
    for rel, entry in files.items():
        p = root / rel
        if not p.is_file() or p.stat().st_size != entry.get("size"):
            return None, f"shipped file {rel} is missing or has another size"
        if sha256_file(p) != entry.get("sha256"):
            return None, f"shipped file {rel} differs from its SHA-256 in {MANIFEST}"
    return manifest, ""


def copy_shipped(dest: Path, root: Path = SHIPPED_DIR) -> None:
    """Copy the files the manifest lists from ``root`` into ``dest`` (mode 0644, dirs 0755).

    Raises:
        OSError: a file cannot be read or written.
    """
    manifest = read_manifest(root) or {}
    for rel in manifest.get("files", {}):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        shutil.copyfile(root / rel, target)
        target.chmod(0o644)


def write_manifest(root: Path, key: str, builder_version: int) -> dict[str, Any]:
    """Write ``root/MANIFEST.json`` for every file under ``root`` (except COMPLETE and itself)."""
    from importlib.metadata import PackageNotFoundError, version

    def ver(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "?"

    files = {
        str(p.relative_to(root)): {"sha256": sha256_file(p), "size": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in (MANIFEST, "COMPLETE")
    }
    manifest = {
        "recipe_key": key,
        "builder_version": builder_version,
        "built_with": {d: ver(d) for d in _TRAINING_STACK},
        "files": files,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


__all__ = ["MANIFEST", "SHIPPED_DIR", "check_shipped", "copy_shipped", "read_manifest", "write_manifest"]
