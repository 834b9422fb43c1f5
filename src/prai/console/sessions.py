"""Logins, browser sessions and CSRF tokens.

- A session token is 32 random bytes (URL-safe base64) in an HttpOnly, SameSite=Strict
  cookie; the database keeps only its SHA-256, so a copy of the database opens no session.
  Sessions end after ``session_idle_s`` without a request, ``session_max_s`` after login,
  at logout, when the password changes and when the user is disabled.
- The CSRF token is ``SHA-256("prai-csrf:" + session token)``: known to the page (forms
  carry it, scripts send it as ``X-CSRF-Token``), useless without the cookie, and no
  server-side state. Every state-changing request must carry it.
- Logins are throttled in the database (shared by every gateway process): after
  ``login_max_failures`` failures for one user name, or ``login_max_failures_per_client``
  from one address, within ``login_window_s``, attempts are refused with HTTP 429 until the
  oldest failure leaves the window. Every failed or refused login is audited
  (``admin.session.login`` with status 401 or 429, the name tried, the client address;
  never the password).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from prai.config.console import ConsoleConfig
from prai.console._audit import admin_record, audit, audit_in, mark_audited
from prai.console.passwords import DUMMY_HASH, verify_password
from prai.console.roles import Principal
from prai.db.admins import (
    SessionRow,
    clear_login_failures_in,
    delete_session_in,
    get_session,
    get_user,
    insert_session_in,
    login_failures,
    purge_expired_in,
    record_login_failure_in,
    touch_session,
)
from prai.errors import AdminAuthRequired, AdminLoginFailed, LoginThrottled

COOKIE = "prai_console"
#: the cookie's name over HTTPS: the ``__Host-`` prefix makes browsers require Secure, Path=/
#: and no Domain (RFC 6265bis §4.1.3.2)
SECURE_COOKIE = "__Host-prai_console"
#: seconds between updates of a session's ``last_seen`` (fewer writes; a quarter of
#: ``session_idle_s`` when that is shorter)
TOUCH_EVERY_S = 30.0


def token_hash(token: str) -> str:
    """SHA-256 hex of a session token (what the database stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token that goes with a session token."""
    return hashlib.sha256(b"prai-csrf:" + token.encode()).hexdigest()


def csrf_ok(token: str, sent: str | None) -> bool:
    """Whether ``sent`` is the CSRF token of ``token`` (constant-time)."""
    return bool(sent) and hmac.compare_digest(csrf_token(token), sent or "")


@dataclass(frozen=True)
class Login:
    """A new session: ``token`` goes into the cookie, ``principal`` is the user."""

    token: str
    principal: Principal
    max_age_s: int


def login(engine: Engine, cfg: ConsoleConfig, username: str, password: str, *, client: str | None) -> Login:
    """Check the password and open a session.

    Raises:
        LoginThrottled: too many recent failures for the name or the address (HTTP 429).
        AdminLoginFailed: wrong name or password, or a disabled user (HTTP 401).
    """
    now = time.time()
    name = username[:64]
    since = now - cfg.login_window_s
    with engine.begin() as conn:
        purge_expired_in(conn, sessions_before=now, failures_before=since)
    (n_user, oldest_user), (n_client, oldest_client) = login_failures(engine, username=name, client=client,
                                                                      since=since)
    blocked = []
    if n_user >= cfg.login_max_failures and oldest_user is not None:
        blocked.append(oldest_user + cfg.login_window_s - now)
    if n_client >= cfg.login_max_failures_per_client and oldest_client is not None:
        blocked.append(oldest_client + cfg.login_window_s - now)
    if blocked:
        wait = max(blocked)
        audit(engine, admin_record("session.login", actor=name, role=None, status=429, client=client,
                                   error_type="rate_limit_error", detail={"username": name, "throttled": True}))
        throttled = LoginThrottled(f"too many failed logins; try again in {wait:.0f} s", retry_after_s=wait)
        mark_audited(throttled)
        raise throttled
    user = get_user(engine, name)
    ok = verify_password(password, user.password_hash if user is not None else DUMMY_HASH)
    if user is None or not ok or user.disabled:
        with engine.begin() as conn:
            record_login_failure_in(conn, name, client, now)
            audit_in(conn, admin_record("session.login", actor=name, role=None, status=401, client=client,
                                        error_type="authentication_error", detail={"username": name}))
        failed = AdminLoginFailed("wrong user name or password")
        mark_audited(failed)
        raise failed
    token = secrets.token_urlsafe(32)
    now = time.time()  # after the (slow) password check: the session starts now
    expires = now + cfg.session_max_s
    with engine.begin() as conn:
        insert_session_in(conn, SessionRow(token_hash(token), user.username, now, now, expires, client))
        clear_login_failures_in(conn, user.username)
        audit_in(conn, admin_record("session.login", actor=user.username, role=user.role, client=client,
                                    tenant=user.tenant, detail={"username": user.username}))
    principal = Principal(user.username, user.role, user.tenant, token_hash(token), user.must_change_password)
    return Login(token, principal, int(cfg.session_max_s))


def resolve(engine: Engine, cfg: ConsoleConfig, token: str | None) -> Principal:
    """The user of a session cookie.

    Raises:
        AdminAuthRequired: no cookie, an unknown or expired session, a disabled user.
    """
    if not token or len(token) > 128:
        raise AdminAuthRequired("not logged in")
    th = token_hash(token)
    found = get_session(engine, th)
    if found is None:
        raise AdminAuthRequired("the session has ended (logged out, expired or password changed)")
    row, user = found
    now = time.time()
    if user.disabled or now >= row.expires_at or now - row.last_seen > cfg.session_idle_s:
        with engine.begin() as conn:
            delete_session_in(conn, th)
        raise AdminAuthRequired("the session has expired")
    if now - row.last_seen > min(TOUCH_EVERY_S, cfg.session_idle_s / 4):
        touch_session(engine, th, now)
    return Principal(user.username, user.role, user.tenant, th, user.must_change_password)


def logout(engine: Engine, who: Principal, *, client: str | None) -> None:
    """End the session (audited)."""
    with engine.begin() as conn:
        delete_session_in(conn, who.session)
        audit_in(conn, admin_record("session.logout", actor=who.username, role=who.role, client=client,
                                    tenant=who.tenant))


__all__ = ["COOKIE", "SECURE_COOKIE", "Login", "csrf_ok", "csrf_token", "login", "logout", "resolve", "token_hash"]
