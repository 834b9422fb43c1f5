"""Request helpers shared by the admin API and the pages: who is asking, from where, and
whether a state-changing request is really theirs (CSRF token, same origin)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader

from prai.console import sessions
from prai.console._audit import admin_record, audit, is_audited
from prai.console.context import ConsoleContext
from prai.console.roles import Principal
from prai.errors import CsrfRejected, PasswordChangeRequired, PraiError

CSRF_HEADER = "X-CSRF-Token"

cookie_auth = APIKeyCookie(
    name=sessions.COOKIE, auto_error=False, scheme_name="session",
    description="The session cookie set by POST /admin/session (HttpOnly, SameSite=Strict).",
)
csrf_auth = APIKeyHeader(
    name=CSRF_HEADER, auto_error=False, scheme_name="csrf",
    description="The csrf_token of GET /admin/session; required on every POST, PUT and DELETE.",
)


def ctx_of(request: Request) -> ConsoleContext:
    """The console's context (set on the app by :func:`prai.console.web.build_app`)."""
    ctx: ConsoleContext = request.app.state.ctx
    return ctx


def client_of(request: Request) -> str | None:
    """The peer address (the socket's; X-Forwarded-For is not trusted)."""
    return request.client.host if request.client else None


def session_token(request: Request) -> str | None:
    return request.cookies.get(sessions.COOKIE)


def principal_of(request: Request, *, allow_pending: bool = False) -> Principal:
    """The logged-in user.

    Raises:
        AdminAuthRequired: no valid session.
        PasswordChangeRequired: a one-time password not yet replaced (unless ``allow_pending``).
    """
    ctx = ctx_of(request)
    who = sessions.resolve(ctx.engine, ctx.gateway.console, session_token(request))
    if who.must_change_password and not allow_pending:
        raise PasswordChangeRequired(f"{who.username} logged in with a one-time password: set a new one first")
    return who


#: Methods that change nothing: their refusals are not admin actions.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def audit_refusal(request: Request, exc: PraiError | None = None, *, status: int | None = None,
                  error_type: str | None = None, message: str | None = None) -> None:
    """Audit a refused state-changing request of a logged-in user as ``admin.refused``
    (method, path, status, error type and message in ``detail``; no form values, so no
    secret): input of the wrong type, a forbidden action, a CSRF or origin refusal.

    Nothing is written for a safe method, for an error already audited where it was raised
    (:func:`prai.console._audit.mark_audited`: failed logins, gated promotions), or when no
    session resolves (an anonymous request is not an operator action; failed logins are
    audited by :mod:`prai.console.sessions`). Synchronous (a database write): call it in a
    thread from async code.
    """
    if request.method in SAFE_METHODS or is_audited(exc):
        return
    try:
        who = principal_of(request, allow_pending=True)
    except PraiError:
        return
    status = status if status is not None else (exc.http_status if exc is not None else 400)
    error_type = error_type or (exc.error_type if exc is not None else "invalid_request_error")
    text = message if message is not None else (exc.message if exc is not None else "")
    audit(ctx_of(request).engine, admin_record(
        "refused", actor=who.username, role=who.role, status=status, error_type=error_type,
        client=client_of(request), tenant=who.tenant,
        detail={"method": request.method, "path": request.url.path, "error": text[:500]},
    ))


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request whose Origin (or, without one, Referer) names another
    host than the one it was sent to (a second line behind SameSite=Strict cookies).

    Raises:
        CsrfRejected: another origin.
    """
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        return  # scripts and curl send neither; they still need the CSRF token
    host = request.headers.get("host", "")
    if source == "null" or urlsplit(source).netloc.lower() != host.lower():
        raise CsrfRejected("the request comes from another origin")


def check_csrf(request: Request, sent: str | None) -> None:
    """Raises CsrfRejected unless ``sent`` is the session's CSRF token and the origin is ours."""
    check_same_origin(request)
    token = session_token(request)
    if not token or not sessions.csrf_ok(token, sent):
        raise CsrfRejected("missing or wrong CSRF token")


def reader(request: Request, _cookie: str | None = Security(cookie_auth)) -> Principal:
    """Dependency: any logged-in user (read access; roles are checked by the operation)."""
    return principal_of(request)


def writer(
    request: Request, who: Principal = Depends(reader), csrf: str | None = Security(csrf_auth)
) -> Principal:
    """Dependency: a logged-in user sending the CSRF token (state-changing requests)."""
    check_csrf(request, csrf)
    return who


def pending_reader(request: Request, _cookie: str | None = Security(cookie_auth)) -> Principal:
    """Dependency: a logged-in user, even one who must still change the password."""
    return principal_of(request, allow_pending=True)


def pending_writer(
    request: Request, who: Principal = Depends(pending_reader), csrf: str | None = Security(csrf_auth)
) -> Principal:
    """Dependency: :func:`pending_reader` plus the CSRF token."""
    check_csrf(request, csrf)
    return who


__all__ = [
    "CSRF_HEADER",
    "check_csrf",
    "check_same_origin",
    "client_of",
    "ctx_of",
    "pending_reader",
    "pending_writer",
    "principal_of",
    "reader",
    "session_token",
    "writer",
]
