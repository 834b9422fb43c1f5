"""The admin API (JSON under ``/admin``): routes only; each calls one operation module.

Authentication: ``POST /admin/session`` sets the session cookie and returns the CSRF
token; every POST, PUT and DELETE must send it as ``X-CSRF-Token``. Errors are PrAI's
envelope ``{"error": {"message", "type", "param", "code"}}`` (:class:`.schemas.ErrorResponse`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool

from prai.console import (
    audit_view,
    budgets,
    checks,
    key_admin,
    models_view,
    sessions,
    tenants,
    usage,
    users,
)
from prai.console._deps import (
    check_same_origin,
    client_of,
    ctx_of,
    pending_reader,
    pending_writer,
    reader,
    writer,
)
from prai.console.roles import Principal
from prai.console.schemas import (
    KEY_ID_PATTERN,
    NAME_PATTERN,
    AliasWithVersions,
    AuditPage,
    BudgetsOut,
    ChainStatus,
    ChangeOut,
    DoctorOut,
    DoctorRequest,
    Done,
    ErrorResponse,
    KeyCreate,
    KeyCreated,
    KeyExpiry,
    KeyOut,
    LoginRequest,
    ModelDetail,
    PasswordChange,
    PromoteRequest,
    ReportOut,
    RollbackRequest,
    SessionInfo,
    TenantsOut,
    UsageOut,
    UserOut,
)
from prai.errors import UsageError
from prai.gateway import admin as gw_admin

router = APIRouter(prefix="/admin")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Invalid request", 401: "Not logged in", 403: "Not allowed (role, tenant, CSRF)",
            404: "Not found", 409: "Conflict", 422: "Refused", 429: "Too many failed logins",
            500: "Server error", 502: "Engine error", 503: "Engine or storage unavailable"}
    return {c: {"model": ErrorResponse, "description": text.get(c, "Error")} for c in codes}


READ = _errors(400, 401, 403)
WRITE = _errors(400, 401, 403, 404)


def time_us(name: str, text: str | None) -> int | None:
    """``24h`` / ``7d`` ago, or an ISO date/time (UTC without a zone) -> epoch µs.

    Raises:
        UsageError: neither form.
    """
    if text is None or text == "":
        return None
    try:
        return gw_admin.parse_since(text)
    except UsageError:
        raise UsageError(f"{name} {text!r}: not a time", hint="use an ISO date (2026-11-01) or a duration (24h, 7d)") \
            from None


def _session_info(who: Principal, token: str) -> dict[str, Any]:
    return {"username": who.username, "role": who.role, "tenant": who.tenant,
            "csrf_token": sessions.csrf_token(token), "must_change_password": who.must_change_password}


def set_session_cookie(request: Request, response: Response, token: str, max_age_s: int) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS (or when
    ``console.secure_cookies`` says so)."""
    secure = ctx_of(request).gateway.console.secure_cookies
    if secure is None:
        secure = request.url.scheme == "https"
    response.set_cookie(sessions.COOKIE, token, max_age=max_age_s, path="/", httponly=True, samesite="strict",
                        secure=secure)


# --- session ------------------------------------------------------------------------------


@router.post("/session", tags=["session"], response_model=SessionInfo, responses=_errors(400, 401, 403, 429))
def login(request: Request, response: Response, body: LoginRequest) -> dict[str, Any]:
    """Log in: sets the session cookie; returns the user and the CSRF token.

    Throttled: after too many failures for the name or from the address, 429 with Retry-After.
    """
    check_same_origin(request)
    ctx = ctx_of(request)
    done = sessions.login(ctx.engine, ctx.gateway.console, body.username, body.password, client=client_of(request))
    set_session_cookie(request, response, done.token, done.max_age_s)
    return _session_info(done.principal, done.token)


@router.get("/session", tags=["session"], response_model=SessionInfo, responses=_errors(401))
def session(request: Request, who: Principal = Depends(pending_reader)) -> dict[str, Any]:
    """The logged-in user and the CSRF token for state-changing requests."""
    return _session_info(who, request.cookies[sessions.COOKIE])


@router.delete("/session", tags=["session"], response_model=Done, responses=_errors(401, 403))
def logout(request: Request, response: Response, who: Principal = Depends(pending_writer)) -> dict[str, Any]:
    """Log out (the session ends on the server, the cookie is cleared)."""
    sessions.logout(ctx_of(request).engine, who, client=client_of(request))
    response.delete_cookie(sessions.COOKIE, path="/")
    return {"ok": True}


@router.post("/session/password", tags=["session"], response_model=Done, responses=_errors(400, 401, 403))
def change_password(request: Request, body: PasswordChange, who: Principal = Depends(pending_writer)) -> dict[
    str, Any
]:
    """Replace the logged-in user's password (required after a one-time password); the user's
    other sessions end."""
    users.change_own_password(ctx_of(request).engine, who, current=body.current_password, new=body.new_password,
                              client=client_of(request))
    return {"ok": True}


# --- tenants and users ----------------------------------------------------------------------


@router.get("/tenants", tags=["tenants"], response_model=TenantsOut, responses=READ)
def list_tenants(request: Request, who: Principal = Depends(reader)) -> dict[str, Any]:
    """Tenants and projects with limits and budgets, as kitchen.yaml defines them (read-only)."""
    return {"source_of_truth": tenants.SOURCE_NOTE, "tenants": tenants.tenant_rows(ctx_of(request), who)}


@router.get("/users", tags=["users"], response_model=list[UserOut], responses=READ)
def list_users(request: Request, who: Principal = Depends(reader)) -> list[dict[str, Any]]:
    """Console users (platform-admin, auditor). Users are created with `prai admin create-user`."""
    who.require_all_tenants("the list of console users")
    return users.user_rows(ctx_of(request).engine)


# --- keys ---------------------------------------------------------------------------------


@router.get("/keys", tags=["keys"], response_model=list[KeyOut], responses=READ)
def list_keys(
    request: Request,
    who: Principal = Depends(reader),
    tenant: str | None = Query(None, pattern=NAME_PATTERN),
    project: str | None = Query(None, pattern=NAME_PATTERN),
    state: str | None = Query(None, pattern="^(active|revoked|expired)$"),
) -> list[dict[str, Any]]:
    """API keys (never the keys themselves), newest first; tenant-admins see their tenant's."""
    return key_admin.list_key_rows(ctx_of(request), who, tenant=tenant, project=project, state=state)


@router.post("/keys", tags=["keys"], status_code=201, response_model=KeyCreated, responses=WRITE)
def create_key(request: Request, body: KeyCreate, who: Principal = Depends(writer)) -> dict[str, Any]:
    """Create an API key for a project. The key is in this answer only."""
    key, row = key_admin.create_key(ctx_of(request), who, tenant=body.tenant, project=body.project, name=body.name,
                                    expires_in=body.expires_in, expires_at=body.expires_at, client=client_of(request))
    return {**row, "key": key}


@router.post("/keys/{key_id}/revoke", tags=["keys"], response_model=KeyOut, responses=WRITE)
def revoke_key(
    request: Request, key_id: str = Path(pattern=KEY_ID_PATTERN), who: Principal = Depends(writer)
) -> dict[str, Any]:
    """Revoke a key; every gateway refuses it within gateway.key_cache_refresh_s."""
    return key_admin.revoke_key(ctx_of(request), who, key_id, client=client_of(request))


@router.put("/keys/{key_id}/expiry", tags=["keys"], response_model=KeyOut, responses=WRITE)
def set_key_expiry(
    request: Request, body: KeyExpiry, key_id: str = Path(pattern=KEY_ID_PATTERN), who: Principal = Depends(writer)
) -> dict[str, Any]:
    """Set when a key expires (expires_in from now, or expires_at); neither: never."""
    return key_admin.set_expiry(ctx_of(request), who, key_id, expires_in=body.expires_in,
                                expires_at=body.expires_at, client=client_of(request))


# --- usage --------------------------------------------------------------------------------


@router.get("/usage", tags=["usage"], response_model=UsageOut, responses=READ)
def get_usage(
    request: Request,
    who: Principal = Depends(reader),
    since: str = Query("24h", max_length=64, description="Duration ago (24h, 7d) or ISO time (UTC)."),
    until: str | None = Query(None, max_length=64, description="ISO time (UTC) or duration ago; default now."),
    tenant: str | None = Query(None, pattern=NAME_PATTERN),
    project: str | None = Query(None, pattern=NAME_PATTERN),
    by: str = Query("model", pattern="^(tenant|project|model|key|day|month)$",
                    description="Grouping of rows, as `prai usage --by`."),
    timezone: str | None = Query(None, max_length=64,
                                 description="IANA zone of days and months; default gateway.budget_timezone."),
    buckets: int = Query(24, ge=1, le=usage.MAX_BUCKETS, description="Intervals of the time series."),
) -> dict[str, Any]:
    """The figures of `prai usage` (rows: the same function, the same output), and per tenant and
    project TTFT and latency percentiles and time series."""
    since_us = time_us("since", since)
    if since_us is None:
        raise UsageError("since is empty", hint="give a duration (24h, 7d) or an ISO time")
    return usage.usage_report(ctx_of(request), who, since_us=since_us, until_us=time_us("until", until),
                              tenant=tenant, project=project, by=by, buckets=buckets, timezone=timezone)


# --- budgets ------------------------------------------------------------------------------


@router.get("/budgets", tags=["budgets"], response_model=BudgetsOut, responses=READ)
def get_budgets(
    request: Request,
    who: Principal = Depends(reader),
    tenant: str | None = Query(None, pattern=NAME_PATTERN),
    project: str | None = Query(None, pattern=NAME_PATTERN),
) -> dict[str, Any]:
    """Budgets of tenants, projects and keys (kitchen.yaml, read-only) with spent and remaining
    in the current day and month."""
    return budgets.budget_report(ctx_of(request), who, tenant=tenant, project=project)


# --- audit --------------------------------------------------------------------------------


def audit_filter(
    tenant: str | None = Query(None, pattern=NAME_PATTERN),
    project: str | None = Query(None, pattern=NAME_PATTERN),
    key_id: str | None = Query(None, pattern=KEY_ID_PATTERN),
    model: str | None = Query(None, max_length=256),
    status: int | None = Query(None, ge=100, le=599),
    endpoint: str | None = Query(None, max_length=64, description="Prefix: chat., admin., model. ..."),
    since: str | None = Query(None, max_length=64, description="Duration ago (24h) or ISO time."),
    until: str | None = Query(None, max_length=64, description="Duration ago or ISO time (exclusive)."),
) -> audit_view.AuditFilter:
    """The audit query parameters shared by query and export."""
    return audit_view.AuditFilter(tenant=tenant, project=project, key_id=key_id, model=model, status=status,
                                  endpoint=endpoint, since_us=time_us("since", since),
                                  until_us=time_us("until", until))


@router.get("/audit", tags=["audit"], response_model=AuditPage, responses=READ)
def query_audit(
    request: Request,
    who: Principal = Depends(reader),
    f: audit_view.AuditFilter = Depends(audit_filter),
    before_seq: int | None = Query(None, ge=1, description="Page: records older than this sequence number."),
    limit: int = Query(100, ge=1, le=audit_view.MAX_LIMIT),
) -> dict[str, Any]:
    """Audit records, newest first, one page at a time."""
    return audit_view.query(ctx_of(request), who, f, before_seq=before_seq, limit=limit)


@router.get("/audit/export", tags=["audit"], responses={
    200: {"description": "CSV (RFC 4180) or JSON Lines", "content": {"text/csv": {}, "application/x-ndjson": {}}},
    **READ,
})
def export_audit(
    request: Request,
    who: Principal = Depends(reader),
    f: audit_view.AuditFilter = Depends(audit_filter),
    format: str = Query("csv", pattern="^(csv|jsonl)$"),
) -> StreamingResponse:
    """Every matching record in sequence order, as a download (the export itself is audited)."""
    lines: Iterator[str] = audit_view.export(ctx_of(request), who, f, fmt=format, client=client_of(request))
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    name = f"prai-audit-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.{format}"
    return StreamingResponse(iterate_in_threadpool(lines), media_type=media,
                             headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/audit/verify", tags=["audit"], response_model=ChainStatus, responses=READ)
def verify_audit(request: Request, who: Principal = Depends(reader)) -> dict[str, Any]:
    """Verify the audit hash chain (platform-admin, auditor); ok=false names the first problem."""
    return audit_view.chain_status(ctx_of(request), who)


# --- models -------------------------------------------------------------------------------


@router.get("/models", tags=["models"], response_model=list[AliasWithVersions], responses=READ)
def list_models(request: Request, who: Principal = Depends(reader)) -> list[dict[str, Any]]:
    """Registered models and adapters: aliases, where they route, their versions."""
    return models_view.list_models(ctx_of(request))


@router.get("/models/{name}", tags=["models"], response_model=ModelDetail, responses=_errors(400, 401, 403, 404))
def show_model(request: Request, name: str = Path(pattern=NAME_PATTERN), who: Principal = Depends(reader)) -> dict[
    str, Any
]:
    """One alias: routing, versions and history (who changed what, when)."""
    return models_view.show_model(ctx_of(request), name)


@router.post("/models/{name}/promote", tags=["models"], response_model=ChangeOut,
             responses=_errors(400, 401, 403, 404, 409, 422, 500, 502, 503))
def promote_model(
    request: Request, body: PromoteRequest, name: str = Path(pattern=NAME_PATTERN), who: Principal = Depends(writer)
) -> dict[str, Any]:
    """Promote a version (or canary it), with the gates of `prai model promote` (platform-admin)."""
    return models_view.promote(ctx_of(request), who, name, body.version, canary_percent=body.canary_percent,
                               gate_eval=body.gate_eval, gate_bench=body.gate_bench,
                               max_regression=body.max_regression, tokenizer=body.tokenizer,
                               drain_timeout_s=body.drain_timeout_s, client=client_of(request))


@router.post("/models/{name}/rollback", tags=["models"], response_model=ChangeOut,
             responses=_errors(400, 401, 403, 404, 409, 500, 502, 503))
def rollback_model(
    request: Request, body: RollbackRequest, name: str = Path(pattern=NAME_PATTERN), who: Principal = Depends(writer)
) -> dict[str, Any]:
    """Undo the last change: drop the canary, else restore the previous version (platform-admin)."""
    return models_view.rollback(ctx_of(request), who, name, drain_timeout_s=body.drain_timeout_s,
                                client=client_of(request))


# --- checks -------------------------------------------------------------------------------


@router.get("/checks/areas", tags=["checks"], response_model=list[str], responses=_errors(401, 403))
def doctor_areas(who: Principal = Depends(reader)) -> list[str]:
    """Doctor's areas, in the checklist's order."""
    return checks.areas()


@router.post("/checks/doctor", tags=["checks"], response_model=DoctorOut, responses=WRITE)
def run_doctor(request: Request, body: DoctorRequest, who: Principal = Depends(writer)) -> dict[str, Any]:
    """Run doctor areas on the gateway host with its kitchen.yaml (platform-admin)."""
    return checks.run_doctor_areas(ctx_of(request), who, body.areas, client=client_of(request))


@router.get("/checks/reports", tags=["checks"], response_model=list[ReportOut], responses=READ)
def list_reports(
    request: Request, who: Principal = Depends(reader), kind: str | None = Query(None, pattern="^(bench|eval)$")
) -> list[dict[str, Any]]:
    """The newest `prai bench` / `prai eval` reports under gateway.console.reports_dirs."""
    return [r.row() for r in checks.list_reports(ctx_of(request), who, kind)]


@router.get("/checks/reports/{report_id}", tags=["checks"], responses={
    200: {"description": "The self-contained HTML report", "content": {"text/html": {}}},
    **_errors(400, 401, 403, 404),
})
def open_report(
    request: Request, report_id: str = Path(pattern="^[0-9a-f]{16}$"), who: Principal = Depends(reader)
) -> Response:
    """The report.html of a listed report (served with a sandboxing Content-Security-Policy)."""
    return report_response(checks.report_html(ctx_of(request), who, report_id))


#: Reports are self-contained pages with inline CSS and SVG: allowed, in a sandbox, nothing else.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def report_response(body: bytes) -> Response:
    return Response(body, media_type="text/html; charset=utf-8", headers={"content-security-policy": REPORT_CSP})


__all__ = ["REPORT_CSP", "report_response", "router", "set_session_cookie", "time_us"]
