"""The bring-in step of ``prai demo``: pack, verify, load into a local store.

The demo (engine room) calls :func:`demo_roundtrip` with the demo model and adapters
and then serves from ``result.model_dir`` / ``result.adapter_dirs``, so the demo
exercises the same path a closed-network operator takes.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ._hashing import ProgressSink
from .create import create_bundle
from .load import LoadResult, load_bundle
from .verify import VerifyReport, verify_bundle


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
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    bundle = work / "bundle"
    if bundle.exists():
        shutil.rmtree(bundle)
    t0 = time.monotonic()
    created = create_bundle(bundle, model=model_dir, adapters=dict(adapter_dirs), progress=progress)
    t1 = time.monotonic()
    report = verify_bundle(bundle, expected_root=created.root_digest, progress=progress)
    report.raise_for_problems()
    t2 = time.monotonic()
    store = work / "store"
    loaded = load_bundle(bundle, str(store), expected_root=created.root_digest, progress=progress)
    t3 = time.monotonic()
    store = Path(loaded.destination)
    return DemoRoundtrip(
        bundle=bundle,
        root_digest=created.root_digest,
        store=store,
        model_dir=store / "model",
        adapter_dirs={n: store / "adapters" / n for n in adapter_dirs},
        verify=report,
        load=loaded,
        seconds={"create": t1 - t0, "verify": t2 - t1, "load": t3 - t2},
    )
