"""The bring-in step of ``prai demo``: pack, verify, load into a local store.

The demo (engine room) calls :func:`demo_roundtrip` with the demo model and adapters
and then serves from ``result.model_dir`` / ``result.adapter_dirs``, so the demo
exercises the same path a closed-network operator takes. For the lifecycle demo it
brings in a new adapter version the same way with :func:`demo_adapter_roundtrip`: an
adapter-only bundle, as a site that already serves the base model receives one.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from prai.bundle._hashing import ProgressSink
from prai.bundle.create import CreateResult, create_bundle
from prai.bundle.load import LoadResult, load_bundle
from prai.bundle.verify import VerifyReport, verify_bundle
from prai.modelfiles.adapter import inspect_adapter
from prai.modelfiles.model_dir import check_model_dir


@dataclass
class DemoRoundtrip:
    """Where the demo serves from after the round trip.

    Attributes:
        bundle: the bundle directory written (``work_dir/bundle``).
        root_digest: ``sha256:…`` of its manifest.
        store: the local store (``work_dir/store``), laid out like a PVC.
        model_dir: ``store/model``; adapter_dirs: name -> ``store/adapters/NAME``.
        seconds: wall time per step ("create", "verify", "load").
    """

    bundle: Path
    root_digest: str
    store: Path
    model_dir: Path
    adapter_dirs: dict[str, Path]
    verify: VerifyReport
    load: LoadResult
    seconds: dict[str, float] = field(default_factory=dict)


def demo_roundtrip(
    model_dir: str | Path,
    adapter_dirs: dict[str, str | Path],
    work_dir: str | Path,
    *,
    progress: ProgressSink | None = None,
) -> DemoRoundtrip:
    """Pack the model and adapters into a bundle, verify it, load it into a local store.

    Re-running is cheap: the bundle is rebuilt, but files already in the store with the
    same SHA-256 are not copied again.

    Args:
        model_dir: the demo model directory. adapter_dirs: adapter name -> directory.
        work_dir: created if missing; holds ``bundle/`` and ``store/`` and nothing else.

    Raises:
        ModelError / AdapterError: the inputs are incomplete or do not fit.
        BundleError subclasses: the round trip found damage (should never happen).
    """
    created, report, loaded, store, seconds = _pack_verify_load(
        Path(work_dir), model_dir, dict(adapter_dirs), progress
    )
    return DemoRoundtrip(
        bundle=created.out,
        root_digest=created.root_digest,
        store=store,
        model_dir=store / "model",
        adapter_dirs={n: store / "adapters" / n for n in adapter_dirs},
        verify=report,
        load=loaded,
        seconds=seconds,
    )


@dataclass
class AdapterRoundtrip:
    """Where a new adapter version lies after its bring-in.

    Attributes:
        name: the adapter's name in the bundle and the store.
        adapter_dir: the loaded adapter, ``work_dir/store/adapters/NAME``: serve from here
            (``--lora-modules``, or POST /v1/load_lora_adapter ``lora_path``).
        bundle: the adapter-only bundle directory written (``work_dir/bundle``).
        root_digest: ``sha256:…`` of its manifest (prai-bundle.json), the value an
            operator carries across out of band and records with the version.
        store: the local store (``work_dir/store``).
        seconds: wall time per step ("create", "verify", "load").
    """

    name: str
    adapter_dir: Path
    bundle: Path
    root_digest: str
    store: Path
    verify: VerifyReport
    load: LoadResult
    seconds: dict[str, float] = field(default_factory=dict)


def demo_adapter_roundtrip(
    name: str,
    adapter_dir: str | Path,
    work_dir: str | Path,
    *,
    base_model_dir: str | Path | None = None,
    progress: ProgressSink | None = None,
) -> AdapterRoundtrip:
    """Bring in one adapter version: pack it alone, verify the bundle, load it into a store.

    The connected side packs only the adapter (the base is already in the closed
    network); the bundle's manifest has no model, and its adapter entry records the base
    model name from adapter_config.json. Re-running rebuilds the bundle; files already in
    the store with the same SHA-256 are not copied again.

    Args:
        name: the adapter's name in the bundle (letters, digits, ``.``, ``_``, ``-``),
            e.g. ``kansai``; the loaded directory is ``store/adapters/NAME``.
        adapter_dir: the new version's PEFT LoRA directory.
        work_dir: created if missing; holds ``bundle/`` and ``store/`` and nothing else.
            Use another one than :func:`demo_roundtrip`'s, so both versions stay on disk.
        base_model_dir: when given, the adapter's shapes are first checked against this
            base model (what the closed side will serve it on); nothing of it is packed.

    Raises:
        AdapterError: the adapter is invalid or does not fit ``base_model_dir``.
        ModelError: ``base_model_dir`` is incomplete.
        UsageError: a bad ``name``.
        BundleError subclasses: the round trip found damage (should never happen).
    """
    if base_model_dir is not None:
        base = check_model_dir(base_model_dir)
        base.raise_for_problems()
        inspect_adapter(name, Path(adapter_dir), base.facts)
    created, report, loaded, store, seconds = _pack_verify_load(
        Path(work_dir), None, {name: adapter_dir}, progress
    )
    return AdapterRoundtrip(
        name=name,
        adapter_dir=store / "adapters" / name,
        bundle=created.out,
        root_digest=created.root_digest,
        store=store,
        verify=report,
        load=loaded,
        seconds=seconds,
    )


def _pack_verify_load(
    work: Path,
    model_dir: str | Path | None,
    adapter_dirs: dict[str, str | Path],
    progress: ProgressSink | None,
) -> tuple[CreateResult, VerifyReport, LoadResult, Path, dict[str, float]]:
    """create → verify (against the root digest just made) → load into ``work/store``."""
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    t0 = time.monotonic()
    created = create_bundle(bundle, model=model_dir, adapters=adapter_dirs, progress=progress)
    t1 = time.monotonic()
    report = verify_bundle(bundle, expected_root=created.root_digest, progress=progress)
    report.raise_for_problems()
    t2 = time.monotonic()
    loaded = load_bundle(bundle, str(work / "store"), expected_root=created.root_digest, progress=progress)
    t3 = time.monotonic()
    seconds = {"create": t1 - t0, "verify": t2 - t1, "load": t3 - t2}
    return created, report, loaded, Path(loaded.destination), seconds
