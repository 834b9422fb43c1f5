"""`prai model register`: verify a bundle and record its model/adapters as versions.

The bundle is verified in full first (:func:`prai.bundle.verify_bundle`: every file's
SHA-256 against the manifest, the signature when ``--key`` is given); its root digest
(SHA-256 of ``prai-bundle.json``) becomes the version's key in the registry.
"""

from __future__ import annotations

import posixpath
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from prai.errors import RegistryError, UsageError
from prai.lifecycle import registry
from prai.lifecycle.registry import ModelVersion


@dataclass(frozen=True)
class Component:
    """One registrable part of a bundle."""

    kind: str  # "model" | "adapter"
    name: str
    path: str  # inside the bundle
    base: str | None
    rank: int | None


def bundle_components(manifest: object) -> list[Component]:
    """The model and adapters a bundle manifest describes."""
    out: list[Component] = []
    model = getattr(manifest, "model", None)
    if model is not None:
        out.append(Component("model", model.name, model.path, None, None))
    for a in getattr(manifest, "adapters", []):
        out.append(Component("adapter", a.name, a.path, a.base_model_name_or_path, a.rank))
    return out


def check_engine_path(path: str) -> str:
    """An engine-side adapter directory: absolute, normalised, printable.

    Raises:
        UsageError: relative, with ``..``, or with control characters.
    """
    bad = (not path.startswith("/") or ".." in path.split("/") or path != posixpath.normpath(path)
           or any(ord(c) < 32 or c == "\x7f" for c in path))
    if bad:
        raise UsageError(
            f"--path {path!r} is not an absolute, normalised directory path",
            hint="give the adapter directory as the engine sees it, e.g. /mnt/models/adapters/kansai-v2",
        )
    return path


def register_bundle(
    engine: Engine,
    bundle: Path,
    *,
    version: str,
    actor: str,
    only: str | None = None,
    name: str | None = None,
    base: str | None = None,
    engine_path: str | None = None,
    key: Path | None = None,
) -> list[ModelVersion]:
    """Verify ``bundle`` and register its components as ``version``.

    Args:
        only: register only the component of that name (default: every component).
        name: register under this alias name (needs exactly one component).
        base: adapters: the base model's served name on the engine (default: the
            adapter's ``base_model_name_or_path``).
        engine_path: adapters: the directory as the engine sees it (default: the adapter
            directory inside ``bundle`` when it is a loaded directory bundle).
        key: PEM public key; the bundle's signature must verify with it.

    Raises:
        BundleError subclasses: the bundle does not verify (nothing registered).
        RegistryError: bad selection, missing engine path, duplicates (see
            :func:`prai.lifecycle.registry.register_version`).
    """
    from prai.bundle import verify_bundle

    if engine_path is not None:
        check_engine_path(engine_path)
    if (Path(bundle) / ".prai-loaded.json").is_file() and not (Path(bundle) / "prai-bundle.json").exists():
        raise RegistryError(
            f"{bundle} is a store written by `prai bundle load`, not a bundle",
            hint="register the bundle you loaded it from (it is verified again) and give the "
            f"loaded directory with --path, e.g. --path {Path(bundle).resolve()}/adapters/NAME",
        )
    report = verify_bundle(bundle, key=key)
    report.raise_for_problems()
    manifest = report.manifest
    assert manifest is not None and report.root_digest is not None
    digest = report.root_digest.removeprefix("sha256:")
    comps = bundle_components(manifest)
    if only is not None:
        comps = [c for c in comps if c.name == only]
        if not comps:
            names = ", ".join(c.name for c in bundle_components(manifest)) or "none"
            raise RegistryError(f"the bundle has no model or adapter named {only!r} (it has: {names})")
    if not comps:
        raise RegistryError(f"{bundle}: the bundle holds no model and no adapter to register")
    if (name is not None or engine_path is not None) and len(comps) != 1:
        raise RegistryError(
            f"--name/--path apply to one component, but the bundle has {len(comps)}: "
            + ", ".join(c.name for c in comps),
            hint="choose one with --only NAME",
        )
    verified_by = f"{actor} (prai bundle verify: {len(report.files)} files, signature {report.signature})"
    now = time.time()
    planned = []
    for c in comps:
        path = engine_path
        if c.kind == "adapter" and path is None:
            if report.kind != "dir":
                raise RegistryError(
                    f"adapter {c.name}: the bundle is a {report.kind}, so the engine-side path is unknown",
                    hint="load it first (prai bundle load) and give --path with the adapter directory "
                    "as the engine sees it, e.g. /mnt/models/adapters/NAME",
                )
            path = str((Path(bundle) / c.path).resolve())
        planned.append((c, path))
    rows = [
        {
            "name": name or c.name,
            "version": version,
            "kind": "adapter" if c.kind == "adapter" else "model",
            "digest": digest,
            "source_bundle": str(Path(bundle).resolve()),
            "actor": actor,
            "base": (base or c.base) if c.kind == "adapter" else None,
            "path": path,
            "rank": c.rank,
            "verified_by": verified_by,
            "verified_at": now,
            "now": now,
        }
        for c, path in planned
    ]
    out = registry.register_versions(engine, rows)
    return out


__all__ = ["Component", "bundle_components", "register_bundle"]
