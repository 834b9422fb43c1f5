"""Bring-in bundles (持ち込み): create, inspect, verify and load model bundles.

Public, small named functions other rooms call:

* :func:`verify_bundle` (path, key=None) -> :class:`VerifyReport`
* :func:`read_manifest` (path) -> :class:`Manifest`
* :func:`check_model_dir` (path) -> :class:`ModelDirReport`
* :func:`create_bundle`, :func:`load_bundle`, :func:`demo_roundtrip`,
  :func:`demo_adapter_roundtrip`

Imports are lazy so ``import prai.bundle`` stays cheap (no boto3, no httpx).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "verify_bundle": "verify",
    "VerifyReport": "verify",
    "FileResult": "verify",
    "read_manifest": "verify",
    "Manifest": "manifest",
    "check_model_dir": "modeldir",
    "check_adapter": "modeldir",
    "ModelDirReport": "modeldir",
    "create_bundle": "create",
    "CreateResult": "create",
    "parse_size": "create",
    "load_bundle": "load",
    "LoadResult": "load",
    "demo_roundtrip": "demo",
    "DemoRoundtrip": "demo",
    "demo_adapter_roundtrip": "demo",
    "AdapterRoundtrip": "demo",
}

if TYPE_CHECKING:
    from .create import CreateResult, create_bundle, parse_size
    from .demo import AdapterRoundtrip, DemoRoundtrip, demo_adapter_roundtrip, demo_roundtrip
    from .load import LoadResult, load_bundle
    from .manifest import Manifest
    from .modeldir import ModelDirReport, check_adapter, check_model_dir
    from .verify import FileResult, VerifyReport, read_manifest, verify_bundle


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prai.bundle' has no attribute {name!r}")
    return getattr(importlib.import_module(f"prai.bundle.{module}"), name)


__all__ = [
    "AdapterRoundtrip",
    "CreateResult",
    "DemoRoundtrip",
    "FileResult",
    "LoadResult",
    "Manifest",
    "ModelDirReport",
    "VerifyReport",
    "check_adapter",
    "check_model_dir",
    "create_bundle",
    "demo_adapter_roundtrip",
    "demo_roundtrip",
    "load_bundle",
    "parse_size",
    "read_manifest",
    "verify_bundle",
]
