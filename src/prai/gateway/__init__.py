"""The multi-tenant OpenAI-compatible gateway.

Commands: `prai gateway`, `prai keys`, `prai audit`, `prai up`.

Public surface: :class:`GatewayApp` (the ASGI app), :func:`serve` (run it on uvicorn),
:func:`open_store` (keys and audit database for the CLI). Heavy imports stay in submodules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prai._lazy import lazy_exports

__getattr__ = lazy_exports(__name__, {"GatewayApp": "app", "serve": "server"})

if TYPE_CHECKING:
    from .app import GatewayApp
    from .server import serve

__all__ = ["GatewayApp", "serve"]
