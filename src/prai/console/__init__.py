"""The operator console (issue 17): an admin API under ``/admin`` (JSON, OpenAPI 3.1 at
``/admin/openapi.json``) and a web console under ``/console`` (server-rendered pages in
Japanese and English), served by the gateway on its own port. docs/console.md.

A room above the capabilities: a user interface over the gateway's keys, usage and audit,
the lifecycle (promote, rollback), doctor and the bench/eval reports. Nothing below imports
it: `prai gateway` and `prai up` pass :func:`build_console` to the gateway
(``serve(..., console=build_console)``), which hands it ``/admin`` and ``/console``.

Public surface: :data:`PREFIXES` (the paths the gateway hands over) and
:func:`build_console` (the ASGI app). Users are created with `prai admin` (:mod:`.users`).
FastAPI and Jinja2 are imported only when a console is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

#: path prefixes the gateway passes to the console app
PREFIXES = ("/admin", "/console")


def build_console(
    gateway: Any, engine: Engine, *, cache_dir: Path, config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """The console's ASGI app over the gateway's config and database.

    Args:
        gateway: the :class:`~prai.config.gateway.GatewayConfig`.
        engine: the gateway's database engine (shared: no second pool).
        cache_dir: PRAI_CACHE_DIR (gate reports of console promotions go under it).
        config_path: kitchen.yaml, for doctor and relative report directories.
        environ: environment for doctor's secrets (default: the process's, via settings).
    """
    from prai.console.context import ConsoleContext
    from prai.console.web import build_app

    if environ is None:
        from prai.settings import get_settings

        environ = get_settings().environ
    ctx = ConsoleContext(gateway=gateway, engine=engine, cache_dir=cache_dir, config_path=config_path,
                         environ=environ)
    return build_app(ctx)


__all__ = ["PREFIXES", "build_console"]
