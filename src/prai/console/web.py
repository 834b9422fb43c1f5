"""The console's ASGI app: FastAPI with the admin API (``/admin``), the pages (``/console``),
the packaged static files, one error envelope and the security headers.

Every response carries a Content-Security-Policy that allows nothing outside the gateway's
own origin (no CDN, no font service, no inline script), ``X-Frame-Options: DENY``,
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` and
``Cache-Control: no-store``. The OpenAPI 3.1 document is ``/admin/openapi.json``; its
reference page is ``/console/api`` (rendered here, nothing fetched).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.staticfiles import StaticFiles

from prai import __version__
from prai.console import api, pages
from prai.console._deps import audit_refusal
from prai.console.context import ConsoleContext
from prai.errors import AdminAuthRequired, PasswordChangeRequired, PraiError
from prai.openai_api import error_body

#: the console's policy: its own origin only (``data:`` images for inline SVG icons)
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),  # "no-referrer" would make form posts send Origin: null
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every response; the CSP unless the route set its own."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in names]
                if b"content-security-policy" not in names:
                    headers.append((b"content-security-policy", CSP.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, wrapped)


def _envelope(status: int, message: str, type_: str, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    hdrs = {k.decode(): v.decode() for k, v in headers or []}
    return JSONResponse(error_body(message, type=type_, code=status), status_code=status, headers=hdrs)


def _is_page(request: Request) -> bool:
    return request.url.path.startswith("/console")


async def _prai_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PraiError)
    await run_in_threadpool(audit_refusal, request, exc)
    if _is_page(request):
        if isinstance(exc, AdminAuthRequired):
            return RedirectResponse(pages.login_url(request), status_code=303)
        if isinstance(exc, PasswordChangeRequired):
            return RedirectResponse("/console/account", status_code=303)
        return pages.error_page(request, exc)
    message = f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message
    return _envelope(exc.http_status, message, exc.error_type, getattr(exc, "headers", None))


def _validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    parts, param = [], None
    for err in exc.errors()[:5]:
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
        where = ".".join(loc) or "body"
        param = param or where
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request", param


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    message, param = _validation_message(exc)
    await run_in_threadpool(audit_refusal, request, status=400, error_type="invalid_request_error", message=message)
    if _is_page(request):
        return pages.error_page(request, PraiError(message), status=400)
    body = error_body(f"{message} (hint: see /admin/openapi.json or /console/api)", type="invalid_request_error",
                      param=param, code=400)
    return JSONResponse(body, status_code=400)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
    message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}.get(
        exc.status_code, str(exc.detail))
    if exc.status_code == 405:  # Allow: every method of every route on this path (RFC 9110 §15.5.6)
        exc.headers = {"Allow": _allowed(request)}
    headers = [(k.encode(), v.encode()) for k, v in (exc.headers or {}).items()]
    if _is_page(request):
        page = pages.error_page(request, PraiError(message), status=exc.status_code)
        page.headers.update(exc.headers or {})
        return page
    return _envelope(exc.status_code, message, kind, headers)


def _allowed(request: Request) -> str:
    methods: set[str] = set()
    for route in request.app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI 3.1 document, with validation errors documented as PrAI's 400
    envelope (FastAPI's own 422 schema is not what this API sends)."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title="PrAI admin API", version=__version__, routes=[r for r in app.routes if getattr(r, "path", "")
                                                              .startswith("/admin")],
        description=(
            "Keys, usage, audit, models and checks of a PrAI gateway. Log in with POST /admin/session "
            "(a session cookie); send the returned csrf_token as X-CSRF-Token on every POST, PUT and DELETE. "
            "Roles: platform-admin, tenant-admin (one tenant), auditor (read-only). docs/console.md."
        ),
    )
    for path in doc.get("paths", {}).values():
        for op in path.values():
            # FastAPI lists each security dependency as an alternative; the session cookie
            # and the CSRF header are required together (one requirement object: AND)
            if len(op.get("security", [])) > 1:
                op["security"] = [{k: v for req in op["security"] for k, v in req.items()}]
            responses = op.get("responses", {})
            if "422" in responses and "422" not in _declared_422(op):
                del responses["422"]
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    app.openapi_schema = doc
    return doc


def _declared_422(op: dict[str, Any]) -> set[str]:
    ref = op.get("responses", {}).get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
    return {"422"} if ref.get("$ref", "").endswith("/ErrorResponse") else set()


def build_app(ctx: ConsoleContext) -> Any:
    """The console's ASGI app (FastAPI wrapped in :class:`SecurityHeaders`) for ``ctx``."""
    app = FastAPI(
        title="PrAI admin API", version=__version__, openapi_url="/admin/openapi.json",
        docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None,
    )
    app.state.ctx = ctx
    app.add_exception_handler(PraiError, _prai_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(api.router)
    app.include_router(pages.router)
    static = resources.files("prai.console").joinpath("static")
    app.mount("/console/static", StaticFiles(directory=str(static)), name="static")
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return SecurityHeaders(app)


__all__ = ["CSP", "SecurityHeaders", "build_app"]
