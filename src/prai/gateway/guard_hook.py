"""How the gateway gets its guard: :func:`prai.guard.gateway_plugin.create_guard`, imported
directly. The interface (:class:`Guard`, :class:`GuardContext`, ...) lives in
:mod:`prai.guard.hook` and is re-exported here for the gateway's modules.
"""

from __future__ import annotations

from typing import Any

from prai.guard.gateway_plugin import create_guard
from prai.guard.hook import Guard, GuardAction, GuardContext, NoGuard, OutputFilter


def load_guard(kitchen: Any) -> Guard:
    """The guard for this kitchen (PrAI's detectors and policies).

    Raises:
        ConfigError: a project names a ``guard_policy`` that is not defined, or a policy's
            deny regex does not compile.
    """
    guard: Guard = create_guard(kitchen)
    return guard


__all__ = ["Guard", "GuardAction", "GuardContext", "NoGuard", "OutputFilter", "load_guard"]
