"""``gateway.console:`` in kitchen.yaml: the admin API (``/admin``) and the web console
(``/console``) the gateway serves (issue 17; docs/console.md)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from prai.config._base import StrictModel


class ConsoleConfig(StrictModel):
    """The console's settings; every field has a safe default.

    Attributes:
        enabled: serve ``/admin`` and ``/console`` on the gateway's port (false: 404 there,
            e.g. on a gateway that faces applications only).
        session_idle_s: a browser session ends after this many seconds without a request.
        session_max_s: ... and at the latest this many seconds after login.
        login_max_failures: failed logins per user name within ``login_window_s`` before
            further attempts are refused (HTTP 429) until the window has passed.
        login_max_failures_per_client: the same, per client address (every user name).
        login_window_s: the throttling window (seconds).
        secure_cookies: mark the session cookie ``Secure``; default (null): when the
            request came over HTTPS. Set true behind a TLS-terminating route (edge).
        reports_dirs: directories searched (three levels deep) for `prai bench` and
            `prai eval` output directories (``summary.json`` / ``result.json`` beside
            ``report.html``); relative paths resolve against kitchen.yaml's directory.
    """

    enabled: bool = True
    session_idle_s: float = Field(default=1800.0, gt=0)
    session_max_s: float = Field(default=43200.0, gt=0)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    login_window_s: float = Field(default=900.0, gt=0)
    secure_cookies: bool | None = None
    reports_dirs: list[Path] = Field(default_factory=list)


__all__ = ["ConsoleConfig"]
