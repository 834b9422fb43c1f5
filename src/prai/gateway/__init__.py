"""The multi-tenant OpenAI-compatible gateway: one job, admitting, relaying and accounting
for every request to the engines (docs/architecture.md has the pipeline).

Commands: `prai gateway`, `prai keys`, `prai audit`.

Public surface: :class:`GatewayApp` (the raw ASGI app), :func:`serve` (run it on
uvicorn); ``prai.gateway.admin`` for the CLI (keys, audit). Heavy imports stay in submodules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prai._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"GatewayApp": "app", "serve": "server"})

if TYPE_CHECKING:
    from .app import GatewayApp
    from .server import serve

__all__ = ["GatewayApp", "serve"]
