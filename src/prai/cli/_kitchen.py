"""Which kitchen.yaml a command means when no ``-c`` is given.

`prai gateway`, `prai keys`, `prai audit`, `prai usage`, `prai model` and `prai admin` read
and write the gateway's store (keys, audit log, model registry, console users), which
kitchen.yaml's ``gateway.storage`` names.
A key made in another store than the one the gateway reads is useless (the gateway answers
401), so these commands never guess a store; they use, in this order:

1. ``-c/--config FILE``;
2. ``PRAI_KITCHEN`` (set it once: every prai command then means the same kitchen);
3. the kitchen `prai up` wrote for its demo (``$PRAI_CACHE_DIR/up/kitchen.yaml``), when it
   exists — `prai up` without a kitchen.yaml serves exactly that one;

and otherwise refuse with :class:`~prai.errors.KitchenNotFound` (one line + how to fix).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from prai.errors import KitchenNotFound


def resolve_kitchen(config: Path | None, *, announce: bool = True) -> Path:
    """The kitchen.yaml to use (see the module docstring).

    Args:
        config: ``-c`` as given (already checked to exist), or None.
        announce: print on stderr which kitchen was chosen when it is `prai up`'s.

    Raises:
        KitchenNotFound: no ``-c``, PRAI_KITCHEN unset or missing, and no `prai up` kitchen.
    """
    if config is not None:
        return config
    from prai.kitchen.up import demo_kitchen_path
    from prai.settings import get_settings

    s = get_settings()
    if s.kitchen is not None:
        if not s.kitchen.is_file():
            raise KitchenNotFound(f"PRAI_KITCHEN={s.kitchen}: no such file",
                                  hint="point PRAI_KITCHEN at your kitchen.yaml, or pass -c kitchen.yaml")
        return s.kitchen  # chosen by the user: nothing to announce
    chosen = demo_kitchen_path(s.cache_dir)
    if not chosen.is_file():
        raise KitchenNotFound(
            "no kitchen.yaml: this command reads the gateway's store (keys, audit log, models), "
            "so it must use the kitchen your gateway runs with")
    if announce:
        print(f"kitchen: {chosen} (written by `prai up`; -c FILE to choose another)", file=sys.stderr)
    return chosen


def open_kitchen_store(config: Path | None) -> tuple[Any, Any]:
    """(database engine, GatewayConfig) of the kitchen meant (:func:`resolve_kitchen`).

    Raises:
        KitchenNotFound: as :func:`resolve_kitchen`.
        ConfigError: the kitchen.yaml is invalid or has no ``gateway:`` section.
    """
    from prai.gateway import admin
    from prai.settings import get_settings

    return admin.open_store(resolve_kitchen(config), get_settings().cache_dir)


__all__ = ["open_kitchen_store", "resolve_kitchen"]
