"""The web console's pages (server-rendered Jinja2 under ``/console``).

Each page reads through the same operation modules as the admin API; forms POST back here
with the session's CSRF token in a hidden field (``csrf``) and the page is rendered again
with the outcome. Blocking work (database, doctor, promotions) runs in the thread pool.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from prai.bench.htmlkit import line_chart
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
from prai.console._deps import audit_refusal, check_csrf, check_same_origin, client_of, ctx_of, principal_of
from prai.console.api import report_response, set_session_cookie, time_us
from prai.console.i18n import LANG_COOKIE, LANGS, pick_lang, translator
from prai.console.roles import AUDITOR, PLATFORM_ADMIN, Principal
from prai.errors import (
    AdminLoginFailed,
    BadRequest,
    ConsoleError,
    LoginThrottled,
    PraiError,
    UsageError,
)

router = APIRouter(prefix="/console", include_in_schema=False)
MAX_FORM_BYTES = 64 * 1024

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("prai.console", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _ts(value: float | None) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _num(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


_env.filters["ts"] = _ts
_env.filters["num"] = _num
_env.filters["tojson_pretty"] = lambda v: json.dumps(v, ensure_ascii=False, indent=1, sort_keys=True)

#: navigation: (path, catalog key, who sees it)
NAV = [
    ("/console/", "nav.overview", None),
    ("/console/keys", "nav.keys", None),
    ("/console/usage", "nav.usage", None),
    ("/console/budgets", "nav.budgets", None),
    ("/console/audit", "nav.audit", None),
    ("/console/models", "nav.models", None),
    ("/console/checks", "nav.checks", (PLATFORM_ADMIN, AUDITOR)),
    ("/console/tenants", "nav.tenants", None),
    ("/console/api", "nav.api", None),
]


def render(request: Request, template: str, *, who: Principal | None = None, status: int = 200,
           **values: Any) -> HTMLResponse:
    """A page in the request's language, with the user's CSRF token for its forms."""
    lang = pick_lang(request)
    token = request.cookies.get(sessions.COOKIE) if who is not None else None
    if request.method == "GET":
        path, here = request.url.path, request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:  # the answer to a form (POST /console/models/NAME/promote): its page is /console/models
        path = here = "/".join(request.url.path.split("/")[:3])
    html = _env.get_template(template).render(
        t=translator(lang), lang=lang, langs=LANGS, who=who, path=path,
        csrf=sessions.csrf_token(token) if token else "",
        nav=[n for n in NAV if who is not None and (n[2] is None or who.role in n[2])],
        here=quote(here, safe="/"),
        **values,
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, exc: PraiError, status: int | None = None) -> HTMLResponse:
    """The error page for a failed page request (the message and its hint)."""
    who = None
    with contextlib.suppress(PraiError):
        who = principal_of(request, allow_pending=True)
    return render(request, "error.jinja", who=who, status=status or exc.http_status, error=exc)


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/console/login?next=" + quote(target, safe="")


def _safe_next(value: str | None) -> str:
    """Only paths of the console (no other host, no scheme-relative URL)."""
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadRequest("the form is too large")
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form is not valid") from None
    return {k: v[0] for k, v in parsed.items()}


async def _who(request: Request, *, allow_pending: bool = False) -> Principal:
    return await run_in_threadpool(principal_of, request, allow_pending=allow_pending)


async def _posted(request: Request, *, allow_pending: bool = False) -> tuple[Principal, dict[str, str]]:
    """The user and the form of a POST, after the CSRF check."""
    who = await _who(request, allow_pending=allow_pending)
    form = await _form(request)
    check_csrf(request, form.get("csrf"))
    return who, form


async def _refused(request: Request, exc: PraiError) -> None:
    """Audit a refusal this page shows itself (the app's error handler audits the rest)."""
    await run_in_threadpool(audit_refusal, request, exc)


def _opt(form: dict[str, str], name: str) -> str | None:
    v = form.get(name, "").strip()
    return v or None


# --- login, logout, account, language ------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.jinja", next=_safe_next(next), error=None)


@router.post("/login")
async def login_submit(request: Request) -> Response:
    check_same_origin(request)
    form = await _form(request)
    ctx = ctx_of(request)
    target = _safe_next(form.get("next"))
    try:
        done = await run_in_threadpool(sessions.login, ctx.engine, ctx.gateway.console, form.get("username", ""),
                                       form.get("password", ""), client=client_of(request))
    except (AdminLoginFailed, LoginThrottled) as exc:
        page = render(request, "login.jinja", next=target, error=exc, status=exc.http_status)
        for k, v in getattr(exc, "headers", None) or []:
            page.headers[k.decode()] = v.decode()
        return page
    resp = RedirectResponse("/console/account" if done.principal.must_change_password else target, status_code=303)
    set_session_cookie(request, resp, done.token, done.max_age_s)
    return resp


@router.post("/logout")
async def logout_submit(request: Request) -> Response:
    who, _ = await _posted(request, allow_pending=True)
    await run_in_threadpool(sessions.logout, ctx_of(request).engine, who, client=client_of(request))
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(sessions.COOKIE, path="/")
    return resp


@router.get("/account")
async def account_page(request: Request) -> Response:
    who = await _who(request, allow_pending=True)
    return render(request, "account.jinja", who=who, error=None, notice=None)


@router.post("/account")
async def account_submit(request: Request) -> Response:
    who, form = await _posted(request, allow_pending=True)
    if form.get("new_password", "") != form.get("new_password2", ""):
        mismatch = ConsoleError(translator(pick_lang(request))("account.mismatch"))
        await _refused(request, mismatch)
        return render(request, "account.jinja", who=who, status=400, notice=None, error=mismatch)
    try:
        await run_in_threadpool(users.change_own_password, ctx_of(request).engine, who,
                                current=form.get("current_password", ""), new=form.get("new_password", ""),
                                client=client_of(request))
    except PraiError as exc:
        await _refused(request, exc)
        return render(request, "account.jinja", who=who, status=exc.http_status, error=exc, notice=None)
    who = await _who(request)
    return render(request, "account.jinja", who=who, error=None, notice="account.changed")


@router.get("/lang/{lang}")
async def switch_language(request: Request, lang: str, next: str | None = None) -> Response:
    resp = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGS:
        resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, path="/", samesite="strict", httponly=True)
    return resp


# --- overview ------------------------------------------------------------------------------


@router.get("/")
async def overview(request: Request) -> Response:
    who = await _who(request)
    ctx = ctx_of(request)

    def build() -> dict[str, Any]:
        since = time.time_ns() // 1000 - 86_400_000_000
        report = usage.usage_report(ctx, who, since_us=since, buckets=24)
        keys = key_admin.list_key_rows(ctx, who, state="active")
        return {"usage": report, "active_keys": len(keys), "tenants": tenants.tenant_rows(ctx, who)}

    return render(request, "overview.jinja", who=who, **await run_in_threadpool(build))


# --- keys ----------------------------------------------------------------------------------


def _keys_values(request: Request, who: Principal, tenant: str | None) -> dict[str, Any]:
    ctx = ctx_of(request)
    projects = [(t["name"], p["name"]) for t in tenants.tenant_rows(ctx, who) for p in t["projects"]]
    return {"keys": key_admin.list_key_rows(ctx, who, tenant=tenant), "projects": projects, "tenant": tenant}


@router.get("/keys")
async def keys_page(request: Request, tenant: str | None = None) -> Response:
    who = await _who(request)
    values = await run_in_threadpool(_keys_values, request, who, tenant or None)
    return render(request, "keys.jinja", who=who, created=None, error=None, notice=None, **values)


async def _keys_after(request: Request, who: Principal, do: Callable[[], Any], notice: str | None = None,
                      created: bool = False) -> Response:
    error: PraiError | None = None
    result = None
    try:
        result = await run_in_threadpool(do)
    except PraiError as exc:
        error = exc
        await _refused(request, exc)
    values = await run_in_threadpool(_keys_values, request, who, None)
    return render(request, "keys.jinja", who=who, status=error.http_status if error else 200, error=error,
                  created=result if created and error is None else None, notice=None if error else notice, **values)


@router.post("/keys")
async def keys_create(request: Request) -> Response:
    who, form = await _posted(request)
    tenant, _, project = form.get("project", "").partition("/")

    def do() -> dict[str, Any]:
        key, row = key_admin.create_key(ctx_of(request), who, tenant=tenant, project=project,
                                        name=form.get("name", "").strip(), expires_in=_opt(form, "expires_in"),
                                        client=client_of(request))
        return {**row, "key": key}

    return await _keys_after(request, who, do, created=True)


@router.post("/keys/{key_id}/revoke")
async def keys_revoke(request: Request, key_id: str) -> Response:
    who, _ = await _posted(request)
    return await _keys_after(
        request, who, lambda: key_admin.revoke_key(ctx_of(request), who, key_id, client=client_of(request)),
        notice="keys.revoked")


@router.post("/keys/{key_id}/expiry")
async def keys_expiry(request: Request, key_id: str) -> Response:
    who, form = await _posted(request)
    return await _keys_after(
        request, who, lambda: key_admin.set_expiry(ctx_of(request), who, key_id, expires_in=_opt(form, "expires_in"),
                                                   client=client_of(request)),
        notice="keys.expiry_set")


# --- usage ---------------------------------------------------------------------------------

WINDOWS = ("1h", "6h", "24h", "7d", "30d")


def usage_charts(report: dict[str, Any], t: Callable[..., str]) -> list[Markup]:
    """Inline SVG line charts (requests, tokens, mean TTFT per interval), one line per
    tenant/project; x in hours since the window's start."""
    step_h = report["bucket_s"] / 3600
    out = []
    for metric, title, unit in (("requests", "usage.chart_requests", "requests"),
                                ("tokens", "usage.chart_tokens", "tokens"),
                                ("ttft_avg_ms", "usage.chart_ttft", "ms")):
        series = {}
        for s in report["series"]:
            pts = [(i * step_h, float(p[metric])) for i, p in enumerate(s["points"]) if p[metric] is not None]
            series[f"{s['tenant']}/{s['project']}"] = pts
        svg = line_chart(t(title), series, t("usage.chart_x", since=report["since"]), unit)
        out.append(Markup(svg))
    return out


def usage_command(since: str, by: str, tenant: str | None, project: str | None, scope: str | None) -> str:
    """The `prai usage` command line that prints the same rows as the page."""
    parts = ["prai usage", f"--by {by}", f"--since {since}"]
    if scope:
        parts.append(f"--tenant {scope}")
    if project:
        parts.append(f"--project {project}")
    return " ".join([*parts, "-c kitchen.yaml"])


@router.get("/usage")
async def usage_page(request: Request, since: str = "24h", tenant: str | None = None,
                     project: str | None = None, by: str = "model") -> Response:
    who = await _who(request)
    since = since if since in WINDOWS else "24h"
    by = by if by in usage.GROUP_BY else "model"
    t = translator(pick_lang(request))

    def build() -> dict[str, Any]:
        since_us = time_us("since", since)
        assert since_us is not None
        report = usage.usage_report(ctx_of(request), who, since_us=since_us, tenant=tenant or None,
                                    project=project or None, by=by, buckets=24)
        return {"report": report, "charts": usage_charts(report, t),
                "command": usage_command(since, by, tenant, project or None, who.tenant_filter(tenant or None))}

    return render(request, "usage.jinja", who=who, windows=WINDOWS, group_by=usage.GROUP_BY, by=by, since=since,
                  tenant=tenant or "", project=project or "", **await run_in_threadpool(build))


# --- budgets -------------------------------------------------------------------------------


@router.get("/budgets")
async def budgets_page(request: Request, tenant: str | None = None, project: str | None = None) -> Response:
    who = await _who(request)
    report = await run_in_threadpool(lambda: budgets.budget_report(ctx_of(request), who, tenant=tenant or None,
                                                                   project=project or None))
    return render(request, "budgets.jinja", who=who, report=report, tenant=tenant or "", project=project or "",
                  config_path=str(ctx_of(request).config_path or ""))


# --- audit ---------------------------------------------------------------------------------

AUDIT_FIELDS = ("tenant", "project", "key_id", "model", "status", "endpoint", "since", "until")


@router.get("/audit")
async def audit_page(request: Request) -> Response:
    who = await _who(request)
    q = {k: request.query_params.get(k, "").strip() for k in AUDIT_FIELDS}
    verify = request.query_params.get("verify") == "1"
    before = request.query_params.get("before_seq")

    def build() -> dict[str, Any]:
        status = q["status"]
        if status and not status.isdigit():
            raise UsageError(f"status {status!r} is not a number")
        f = audit_view.AuditFilter(
            tenant=q["tenant"] or None, project=q["project"] or None, key_id=q["key_id"] or None,
            model=q["model"] or None, status=int(status) if status else None, endpoint=q["endpoint"] or None,
            since_us=time_us("since", q["since"]), until_us=time_us("until", q["until"]))
        page = audit_view.query(ctx_of(request), who, f, before_seq=int(before) if before and before.isdigit()
                                else None, limit=100)
        chain = audit_view.chain_status(ctx_of(request), who) if verify else None
        return {"page": page, "chain": chain}

    export_q = "&".join(f"{k}={quote(v, safe='')}" for k, v in q.items() if v)
    values = await run_in_threadpool(build)
    return render(request, "audit.jinja", who=who, q=q, export_q=export_q, can_verify=who.sees_all_tenants,
                  **values)


# --- models --------------------------------------------------------------------------------


async def _models_render(request: Request, who: Principal, *, result: dict[str, Any] | None = None,
                         error: PraiError | None = None) -> Response:
    ctx = ctx_of(request)

    def build() -> dict[str, Any]:
        aliases = models_view.list_models(ctx)
        history = {a["name"]: models_view.show_model(ctx, a["name"])["history"][-8:] for a in aliases}
        return {"aliases": aliases, "history": history}

    return render(request, "models.jinja", who=who, status=error.http_status if error else 200, result=result,
                  error=error, can_change=who.role == PLATFORM_ADMIN, **await run_in_threadpool(build))


@router.get("/models")
async def models_page(request: Request) -> Response:
    return await _models_render(request, await _who(request))


def parse_percent(text: str) -> float:
    """``10%``, ``10`` or ``2.5%`` -> 10.0 / 2.5 (as `prai model promote --canary`).

    Raises:
        UsageError: not a number above 0 and below 100.
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    if not m or not 0 < float(m.group(1)) < 100:
        raise UsageError(f"canary {text!r}: not a percentage above 0 and below 100", hint="use e.g. 10%")
    return float(m.group(1))


def parse_seconds(name: str, text: str | None, default: float) -> float:
    """A number of seconds from 0 to 3600 (the API's bounds); ``default`` when empty.

    Raises:
        UsageError: not such a number.
    """
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise UsageError(f"{name} {text!r}: give seconds from 0 to 3600")
    return value


@router.post("/models/{name}/promote")
async def models_promote(request: Request, name: str) -> Response:
    """Promote or canary with the gates of `prai model promote`: eval suite, bench comparison
    (with its regression limits and tokenizer), and the drain timeout."""
    who, form = await _posted(request)
    try:
        canary = _opt(form, "canary_percent")
        canary_percent = parse_percent(canary) if canary else None
        drain_timeout_s = parse_seconds("drain timeout", _opt(form, "drain_timeout_s"), 300.0)
        result = await run_in_threadpool(
            lambda: models_view.promote(
                ctx_of(request), who, name, form.get("version", ""), canary_percent=canary_percent,
                gate_eval=_opt(form, "gate_eval"), gate_bench=form.get("gate_bench") == "on",
                max_regression=_opt(form, "max_regression"), tokenizer=_opt(form, "tokenizer"),
                drain_timeout_s=drain_timeout_s, client=client_of(request)))
    except PraiError as exc:
        await _refused(request, exc)
        return await _models_render(request, who, error=exc)
    return await _models_render(request, who, result=result)


@router.post("/models/{name}/rollback")
async def models_rollback(request: Request, name: str) -> Response:
    who, _ = await _posted(request)
    try:
        result = await run_in_threadpool(
            lambda: models_view.rollback(ctx_of(request), who, name, client=client_of(request)))
    except PraiError as exc:
        await _refused(request, exc)
        return await _models_render(request, who, error=exc)
    return await _models_render(request, who, result=result)


# --- checks --------------------------------------------------------------------------------


async def _checks_render(request: Request, who: Principal, *, doctor: dict[str, Any] | None = None,
                         error: PraiError | None = None) -> Response:
    reports = await run_in_threadpool(checks.list_reports, ctx_of(request), who)
    return render(request, "checks.jinja", who=who, status=error.http_status if error else 200, doctor=doctor,
                  error=error, areas=checks.areas(), reports=[r.row() for r in reports],
                  can_run=who.role == PLATFORM_ADMIN)


@router.get("/checks")
async def checks_page(request: Request) -> Response:
    return await _checks_render(request, await _who(request))


@router.post("/checks/doctor")
async def checks_doctor(request: Request) -> Response:
    who, _ = await _posted(request)
    form_all = parse_qs((await request.body()).decode(), max_num_fields=50)
    chosen = [a for a in form_all.get("area", []) if a]
    try:
        doctor = await run_in_threadpool(checks.run_doctor_areas, ctx_of(request), who, chosen,
                                         client=client_of(request))
    except PraiError as exc:
        await _refused(request, exc)
        return await _checks_render(request, who, error=exc)
    return await _checks_render(request, who, doctor=doctor)


@router.get("/reports/{report_id}")
async def report_page(request: Request, report_id: str) -> Response:
    who = await _who(request)
    return report_response(await run_in_threadpool(checks.report_html, ctx_of(request), who, report_id))


# --- tenants, API reference ----------------------------------------------------------------


@router.get("/tenants")
async def tenants_page(request: Request) -> Response:
    who = await _who(request)
    rows = await run_in_threadpool(tenants.tenant_rows, ctx_of(request), who)
    return render(request, "tenants.jinja", who=who, tenants=rows, config_path=str(ctx_of(request).config_path or ""))


@router.get("/api")
async def api_reference(request: Request) -> Response:
    """The admin API reference, rendered from the OpenAPI document (works offline)."""
    who = None
    with contextlib.suppress(PraiError):
        who = await _who(request)
    doc = request.app.openapi()
    return render(request, "api.jinja", who=who, doc=doc, ops=_operations(doc))


def _operations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, methods in doc.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ops.append({
                "method": method.upper(), "path": path, "tag": (op.get("tags") or ["other"])[0],
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "params": op.get("parameters", []), "body": body.get("$ref", "").rsplit("/", 1)[-1],
                "responses": sorted(op.get("responses", {})),
                "security": [k for s in op.get("security", []) for k in s],
            })
    return ops


__all__ = ["NAV", "error_page", "login_url", "parse_percent", "parse_seconds", "render", "router", "usage_charts",
           "usage_command"]
