"""Bring-in bundles (持ち込み): create, inspect, verify and load model bundles.

Public, small named functions other rooms call:

* :func:`verify_bundle` (path, key=None) -> :class:`VerifyReport`
* :func:`read_manifest` (path) -> :class:`Manifest`
* :func:`create_bundle`, :func:`load_bundle`

Imports are lazy so ``import prai.bundle`` stays cheap (no boto3, no httpx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prai._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {
    "verify_bundle": "verify",
    "VerifyReport": "verify",
    "FileResult": "verify",
    "read_manifest": "verify",
    "Manifest": "manifest",
    "create_bundle": "create",
    "CreateResult": "create",
    "parse_size": "create",
    "load_bundle": "load",
    "LoadResult": "load",
})

if TYPE_CHECKING:
    from .create import CreateResult, create_bundle, parse_size
    from .load import LoadResult, load_bundle
    from .manifest import Manifest
    from .verify import FileResult, VerifyReport, read_manifest, verify_bundle


__all__ = [
    "CreateResult",
    "FileResult",
    "LoadResult",
    "Manifest",
    "VerifyReport",
    "create_bundle",
    "load_bundle",
    "parse_size",
    "read_manifest",
    "verify_bundle",
]
