"""Rebuild the shipped demo weights from the recipe, or check them.

    python -m prai.engine.demo_refresh --refresh   # train and replace engine/demo_weights/
    python -m prai.engine.demo_refresh             # check: exit 0 when they fit this recipe
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prai.engine import demo_model
from prai.engine.demo_shipped import SHIPPED_DIR, check_shipped, write_manifest


def refresh(root: Path = SHIPPED_DIR, *, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Build the demo model from the recipe and replace the shipped weights with it.

    Raises:
        EngineNotInstalled: the training stack (``cpu`` extra) is missing.
    """
    from prai.engine._imports import require_training_stack

    require_training_stack()
    tmp = Path(tempfile.mkdtemp(prefix=".demo-weights-", dir=root.parent))
    try:
        demo_model.build_into(tmp, log=log)
        manifest = write_manifest(tmp, demo_model.recipe_key(), demo_model.BUILDER_VERSION)
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    """``python -m prai.engine.demo_refresh [--refresh | --check]``."""
    p = argparse.ArgumentParser(prog="python -m prai.engine.demo_refresh", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--refresh", action="store_true", help="rebuild from the recipe and replace the shipped files")
    ns = p.parse_args(argv)
    if ns.refresh:
        m = refresh()
        print(f"wrote {SHIPPED_DIR} for recipe {m['recipe_key']} ({len(m['files'])} files)")
        return 0
    manifest, why = check_shipped(demo_model.recipe_key())
    print(f"shipped demo weights OK: recipe {manifest['recipe_key']}" if manifest else f"not usable: {why}")
    return 0 if manifest else 1


if __name__ == "__main__":
    raise SystemExit(main())
