"""What every console operation needs: the gateway's config, its database, paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from prai.config.gateway import GatewayConfig


@dataclass
class ConsoleContext:
    """Shared by the admin API, the pages and the operations.

    Attributes:
        gateway: ``gateway:`` of kitchen.yaml (tenants, upstreams, ``console:``).
        engine: the gateway's database (keys, audit, registry, console users).
        cache_dir: PRAI_CACHE_DIR.
        config_path: kitchen.yaml (doctor reads it; relative report paths resolve against
            its directory); None when the gateway was built from a config object alone.
        environ: the environment (``Settings.environ``) for doctor's secrets by name.
    """

    gateway: GatewayConfig
    engine: Engine
    cache_dir: Path
    config_path: Path | None = None
    environ: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """kitchen.yaml's directory (the current directory without one)."""
        return self.config_path.resolve().parent if self.config_path is not None else Path.cwd()

    @property
    def gate_dir(self) -> Path:
        """Where promotions started from the console write their gate reports."""
        return self.cache_dir / "console" / "gates"

    def reports_dirs(self) -> list[Path]:
        """``console.reports_dirs`` (resolved) and the gate directory."""
        dirs = [d if d.is_absolute() else self.base_dir / d for d in self.gateway.console.reports_dirs]
        return [*dirs, self.gate_dir]


__all__ = ["ConsoleContext"]
