"""OpenShift AI / KServe deployment: render, validate and check manifests for closed networks.

Public surface:
- :func:`render` / :class:`RenderResult` (``prai render``; loaded on first use, so
  ``prai doctor`` importing the GPU fit does not load the schema machinery),
  :func:`write_atomic`, :func:`diff_against`;
- :func:`check_gpu_fit` / :class:`GpuFit` (``prai.deploy.gpufit``), shared with ``prai doctor``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prai.deploy.gpufit import GpuFit, check_gpu_fit
from prai.deploy.output import RenderDiff, diff_against, write_atomic

if TYPE_CHECKING:
    from prai.deploy.renderer import RenderResult, render


def __getattr__(name: str) -> Any:
    if name in ("render", "RenderResult"):
        from prai.deploy import renderer

        return getattr(renderer, name)
    raise AttributeError(f"module 'prai.deploy' has no attribute {name!r}")


__all__ = [
    "GpuFit",
    "RenderDiff",
    "RenderResult",
    "check_gpu_fit",
    "diff_against",
    "render",
    "write_atomic",
]
