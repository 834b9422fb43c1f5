"""Bring-in bundles (持ち込み): create, inspect, verify and load model bundles.

Public, small named functions other rooms call:

* :func:`verify_bundle` (path, key=None) -> :class:`VerifyReport`
* :func:`read_manifest` (path) -> :class:`Manifest`
* :func:`check_model_dir` (path) -> :class:`ModelDirReport`
* :func:`create_bundle`, :func:`load_bundle`

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
    "check_model_dir": "prai.modelfiles.model_dir",
    "ModelDirReport": "prai.modelfiles.model_dir",
    "create_bundle": "create",
    "CreateResult": "create",
    "parse_size": "create",
    "load_bundle": "load",
    "LoadResult": "load",
}

if TYPE_CHECKING:
    from prai.modelfiles.model_dir import ModelDirReport, check_model_dir

    from .create import CreateResult, create_bundle, parse_size
    from .load import LoadResult, load_bundle
    from .manifest import Manifest
    from .verify import FileResult, VerifyReport, read_manifest, verify_bundle


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'prai.bundle' has no attribute {name!r}")
    return getattr(importlib.import_module(module if "." in module else f"prai.bundle.{module}"), name)


__all__ = [
    "CreateResult",
    "FileResult",
    "LoadResult",
    "Manifest",
    "ModelDirReport",
    "VerifyReport",
    "check_model_dir",
    "create_bundle",
    "load_bundle",
    "parse_size",
    "read_manifest",
    "verify_bundle",
]
