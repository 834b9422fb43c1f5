"""The gateway's guardrail hook: creates the guard for a kitchen.

The interface (:class:`~prai.guard.hook.Guard`, :class:`~prai.guard.hook.GuardContext`,
:class:`~prai.guard.hook.OutputFilter`) lives in :mod:`prai.guard.hook`; the
implementation is :func:`prai.guard.gateway_plugin.create_guard`, imported directly.
Projects without ``guard_policy`` never call the guard (the fast path).
"""

from __future__ import annotations

from typing import Any

from prai.guard.gateway_plugin import create_guard
from prai.guard.hook import Guard, GuardAction, GuardContext, NoGuard, OutputFilter


def load_guard(kitchen: Any) -> Guard:
    """The guard for this kitchen's projects.

    Raises:
        ConfigError: a project names a ``guard_policy`` that is not defined.
    """
    guard: Guard = create_guard(kitchen)
    return guard


__all__ = ["Guard", "GuardAction", "GuardContext", "NoGuard", "OutputFilter", "load_guard"]
