"""The top level of kitchen.yaml: one optional section per capability.

Each section's schema lives in its own module, owned by that capability.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from prai.config._base import StrictModel, load_yaml_model
from prai.config.cluster import ClusterConfig
from prai.config.doctor import DoctorConfig
from prai.config.gateway import GatewayConfig
from prai.config.guard import GuardConfig


class KitchenConfig(StrictModel):
    """kitchen.yaml. Sections are added by the capabilities that read them."""

    version: int = 1
    gateway: GatewayConfig | None = None
    cluster: ClusterConfig | None = None
    guard: GuardConfig | None = None
    doctor: DoctorConfig | None = None


def load_kitchen(
    path: str | Path,
    *,
    env: Mapping[str, str] | None = None,
    prepare: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> KitchenConfig:
    """Read kitchen.yaml into :class:`KitchenConfig` (``prepare``: a hook that may change the
    parsed mapping before validation, e.g. ``prai render --image-map``).

    Raises:
        ConfigError: see :func:`prai.config.load_yaml_model`.
    """
    return load_yaml_model(path, KitchenConfig, env=env, prepare=prepare)
