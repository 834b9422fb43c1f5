"""Fixtures for `prai render` tests: the examples copied into tmp, edited per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy._deploy_util import EXAMPLES


@pytest.fixture
def crd_dir(shared_dir: Path) -> Path:
    """The real KServe CRDs in ../shared (never copied into the repository)."""
    d = shared_dir / "schemas" / "kserve"
    assert (d / "serving.kserve.io_inferenceservices.yaml").is_file()
    return d


@pytest.fixture
def kitchen(tmp_path: Path) -> Callable[..., Path]:
    """Copy an example with its assets into tmp; ``edit(doc)`` may change the YAML first.

    Returns a function ``make(example="kitchen-cluster.yaml", edit=None) -> kitchen path``.
    """

    def make(example: str = "kitchen-cluster.yaml",
             edit: Callable[[dict[str, Any]], None] | None = None) -> Path:
        root = tmp_path / "site"
        if not root.exists():
            shutil.copytree(EXAMPLES / "cluster", root / "cluster")
        doc = yaml.safe_load((EXAMPLES / example).read_text(encoding="utf-8"))
        if edit is not None:
            edit(doc)
        p = root / example
        p.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return p

    return make
