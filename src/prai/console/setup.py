"""What `prai up` and `prai demo` print about the console: its URL and how to log in.

The one-machine kitchens create (or reset) a ``admin`` platform-admin with a one-time
password, shown once, that must be replaced at the first login. A kitchen from the
operator's own kitchen.yaml gets no user made for it: the lines say how to create one.
"""

from __future__ import annotations

from pathlib import Path

from prai.console.roles import PLATFORM_ADMIN
from prai.console.users import create_user, reset_password
from prai.db.admins import get_user, list_users

DEMO_ADMIN = "admin"


def console_url(gateway_url: str) -> str:
    """The console's address on a gateway (``http://HOST:PORT`` -> ``.../console/``)."""
    return gateway_url.rstrip("/") + "/console/"


def login_lines(config: Path, cache_dir: Path, gateway_url: str, *, demo_user: bool, actor: str) -> list[str]:
    """Lines telling the operator where the console is and how to log in.

    Args:
        config: the kitchen.yaml the gateway runs with.
        demo_user: create or reset the ``admin`` user with a one-time password (the demo
            kitchens only).
        actor: who the audit log names for that change (``PRAI_ACTOR`` or ``USER@HOST``).

    Returns:
        No lines when the console is switched off (``gateway.console.enabled: false``).
    """
    from prai.gateway import admin

    engine, gw = admin.open_store(config, cache_dir)
    try:
        if gw is not None and not gw.console.enabled:
            return []
        url = console_url(gateway_url)
        if demo_user:
            if get_user(engine, DEMO_ADMIN) is None:
                new = create_user(engine, DEMO_ADMIN, role=PLATFORM_ADMIN, actor=actor)
            else:
                new = reset_password(engine, DEMO_ADMIN, actor=actor)
            return [
                f"console: {url} (admin API: {gateway_url.rstrip('/')}/admin/openapi.json)",
                f"  log in as {DEMO_ADMIN} with the one-time password {new.password} (shown once; "
                "you choose your own at the first login)",
            ]
        lines = [f"console: {url} (admin API: {gateway_url.rstrip('/')}/admin/openapi.json)"]
        if not list_users(engine):
            lines.append(f"  no console user yet: prai admin create-user NAME --role platform-admin -c {config}")
        else:
            lines.append(f"  log in with a console user (prai admin list-users -c {config})")
        return lines
    finally:
        engine.dispose()


__all__ = ["DEMO_ADMIN", "console_url", "login_lines"]
