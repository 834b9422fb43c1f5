"""The multi-tenant OpenAI-compatible gateway.

Commands: `prai gateway`, `prai keys`, `prai audit`, `prai up`.

Public surface: :class:`GatewayApp` (the ASGI app), :func:`serve` (run it on uvicorn),
:func:`open_store` (keys and audit database for the CLI). Heavy imports stay in submodules.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GatewayApp", "serve"]


def __getattr__(name: str) -> Any:
    if name == "GatewayApp":
        from prai.gateway.app import GatewayApp

        return GatewayApp
    if name == "serve":
        from prai.gateway.server import serve

        return serve
    raise AttributeError(name)
