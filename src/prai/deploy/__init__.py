"""OpenShift AI / KServe deployment: render, validate and check manifests for closed networks.

Public surface:
- :func:`render` / :class:`RenderResult` (``prai render``; loaded on first use, so
  ``prai doctor`` importing the GPU fit does not load the schema machinery),
  :func:`write_atomic`, :func:`diff_against`;
- :func:`check_gpu_fit` / :class:`GpuFit` (``prai.deploy.gpufit``), shared with ``prai doctor``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prai._lazy import lazy_exports
from prai.deploy.gpufit import GpuFit, check_gpu_fit
from prai.deploy.output import RenderDiff, diff_against, write_atomic

if TYPE_CHECKING:
    from prai.deploy.renderer import RenderResult, render


__getattr__ = lazy_exports(__name__, {"render": "renderer", "RenderResult": "renderer"})


__all__ = [
    "GpuFit",
    "RenderDiff",
    "RenderResult",
    "check_gpu_fit",
    "diff_against",
    "render",
    "write_atomic",
]
