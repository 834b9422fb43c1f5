"""Lazy re-exports for package ``__init__`` modules (PEP 562 module ``__getattr__``).

A package lists its public names once with the submodule that defines each; the submodule
is imported on first access, so ``import prai.bundle`` stays cheap (no boto3, no httpx).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``__getattr__ = lazy_exports(__name__, {...})``.

    Args:
        package: the package's ``__name__`` (``prai.bundle``).
        exports: public name → defining module, relative to ``package`` (``"verify"``) or
            absolute (``"prai.modelfiles.model_dir"``).

    Returns:
        The function Python calls for a missing module attribute; it raises AttributeError
        for names not in ``exports``.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module if module.startswith("prai.") else f"{package}.{module}"), name)

    return __getattr__


__all__ = ["lazy_exports"]
