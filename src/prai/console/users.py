"""Console users: create, reset a password, disable/enable, change one's own password.

Behind `prai admin` (created on the gateway host, never through the API: a console user
cannot make another) and ``POST /admin/session/password``. Every change is one
transaction with its ``admin.user.*`` audit record; a password is never stored, logged
or audited, only its scrypt hash (:mod:`.passwords`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from prai.console._audit import admin_record, audit_in, mark_audited
from prai.console.passwords import check_new_password, generate_password, hash_password, verify_password
from prai.console.roles import Principal, check_role
from prai.db.admins import (
    AdminUser,
    clear_login_failures_in,
    delete_user_sessions_in,
    get_user_in,
    insert_user_in,
    list_users,
    update_user_in,
)
from prai.errors import AdminLoginFailed, AdminUserError, AdminUserNotFound

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


@dataclass(frozen=True)
class NewPassword:
    """A user and the password just set; ``generated`` = shown once, must be changed at login."""

    user: AdminUser
    password: str
    generated: bool


def check_username(username: str) -> str:
    """Raises AdminUserError unless ``username`` is 1-64 of letters, digits, ``._@-``."""
    if not USERNAME_RE.match(username):
        raise AdminUserError(f"user name {username!r} is not valid")
    return username


def create_user(
    engine: Engine,
    username: str,
    *,
    role: str,
    tenant: str | None = None,
    password: str | None = None,
    actor: str,
    known_tenants: Iterable[str] | None = None,
) -> NewPassword:
    """Create a console user; without ``password`` one is generated (shown once; the user
    must replace it at the first login).

    Args:
        known_tenants: the tenants of kitchen.yaml; a tenant-admin's tenant must be one.

    Raises:
        AdminUserError: bad name, role or tenant, a weak password, or the name is taken.
    """
    check_username(username)
    check_role(role, tenant)
    if tenant is not None and known_tenants is not None:
        known = sorted(known_tenants)
        if tenant not in known:
            raise AdminUserError(
                f"tenant {tenant!r} is not in gateway.tenants (configured: {', '.join(known) or 'none'})",
                hint="add the tenant to kitchen.yaml first, or pick a configured one",
            )
    generated = password is None
    if password is None:
        password = generate_password()
    else:
        check_new_password(password, username=username)
    now = time.time()
    user = AdminUser(
        username=username, role=role, tenant=tenant, password_hash=hash_password(password),
        must_change_password=generated, disabled=False, created_at=now, created_by=actor,
        password_changed_at=now,
    )
    try:
        with engine.begin() as conn:
            insert_user_in(conn, user)
            audit_in(conn, admin_record(
                "user.create", actor=actor, role=None, tenant=tenant,
                detail={"username": username, "user_role": role, "generated_password": generated},
            ))
    except IntegrityError:
        raise AdminUserError(
            f"a console user named {username!r} exists already",
            hint=f"reset its password with `prai admin reset-password {username}`, or choose another name",
        ) from None
    return NewPassword(user, password, generated)


def reset_password(engine: Engine, username: str, *, actor: str, password: str | None = None) -> NewPassword:
    """Set a new password (generated when None: one-time), end the user's sessions and clear
    their failed logins (so a throttled user can log in at once; the audit record counts them).

    Raises:
        AdminUserNotFound: no such user.
        AdminUserError: a weak password.
    """
    generated = password is None
    if password is None:
        password = generate_password()
    else:
        check_new_password(password, username=username)
    with engine.begin() as conn:
        if not update_user_in(conn, username, password_hash=hash_password(password),
                              must_change_password=generated, password_changed_at=time.time()):
            raise AdminUserNotFound(f"no console user named {username!r}")
        delete_user_sessions_in(conn, username)
        cleared = clear_login_failures_in(conn, username)
        user = get_user_in(conn, username)
        assert user is not None
        audit_in(conn, admin_record("user.reset_password", actor=actor, role=None, tenant=user.tenant,
                                    detail={"username": username, "generated_password": generated,
                                            "login_failures_cleared": cleared}))
    return NewPassword(user, password, generated)


def set_disabled(engine: Engine, username: str, disabled: bool, *, actor: str) -> AdminUser:
    """Disable (ending every session) or enable a user (clearing their failed logins, counted in
    the audit record, so the user can log in at once).

    Raises:
        AdminUserNotFound: no such user.
    """
    with engine.begin() as conn:
        if not update_user_in(conn, username, disabled=disabled):
            raise AdminUserNotFound(f"no console user named {username!r}")
        detail: dict[str, Any] = {"username": username}
        if disabled:
            delete_user_sessions_in(conn, username)
        else:
            detail["login_failures_cleared"] = clear_login_failures_in(conn, username)
        user = get_user_in(conn, username)
        assert user is not None
        audit_in(conn, admin_record("user.disable" if disabled else "user.enable", actor=actor, role=None,
                                    tenant=user.tenant, detail=detail))
    return user


def change_own_password(
    engine: Engine, who: Principal, *, current: str, new: str, client: str | None
) -> None:
    """The logged-in user replaces their password; their other sessions end.

    Raises:
        AdminLoginFailed: ``current`` is wrong (audited).
        AdminUserError: ``new`` is weak or equals ``current``.
    """
    with engine.connect() as conn:
        user = get_user_in(conn, who.username)
    if user is None or not verify_password(current, user.password_hash):
        with engine.begin() as conn:
            audit_in(conn, admin_record("session.password", actor=who.username, role=who.role, status=401,
                                        error_type="authentication_error", client=client, tenant=who.tenant))
        failed = AdminLoginFailed("the current password is wrong")
        mark_audited(failed)
        raise failed
    check_new_password(new, username=who.username)
    if new == current:
        raise AdminUserError("the new password equals the current one", hint="choose a different password")
    with engine.begin() as conn:
        update_user_in(conn, who.username, password_hash=hash_password(new), must_change_password=False,
                       password_changed_at=time.time())
        delete_user_sessions_in(conn, who.username, keep=who.session)
        audit_in(conn, admin_record("session.password", actor=who.username, role=who.role, client=client,
                                    tenant=who.tenant))


def user_rows(engine: Engine) -> list[dict[str, object]]:
    """Users for listing (never the hash)."""
    return [
        {"username": u.username, "role": u.role, "tenant": u.tenant, "disabled": u.disabled,
         "must_change_password": u.must_change_password, "created_at": u.created_at, "created_by": u.created_by,
         "password_changed_at": u.password_changed_at}
        for u in list_users(engine)
    ]


__all__ = ["NewPassword", "change_own_password", "check_username", "create_user", "reset_password",
           "set_disabled", "user_rows"]
