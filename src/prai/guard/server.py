"""`prai guard serve`: PrAI's detectors behind the FMS / TrustyAI detector API.

Implements ``POST /api/v1/text/contents`` of the FMS Guardrails Orchestrator's Detector API
(foundation-model-stack/fms-guardrails-orchestrator, docs/api/openapi_detector_api.yaml),
so the detectors can be registered with the TrustyAI Guardrails Orchestrator on OpenShift
AI as a ``text_contents`` detector:

* header ``detector-id``: ``all``; a group (``pii``, ``secret``, ``injection``, ``deny``);
  a detector id (``pii.my_number``); or a policy name (built-in or ``guard.policies``):
  its deny lists are used and findings whose ``input`` action is ``allow`` are left out;
* body ``{"contents": ["text", ...], "detector_params": {}}``;
* answer 200: one list per content, in order, of
  ``{"start", "end", "text", "detection", "detection_type", "score"}`` — ``start``/``end``
  are code-point offsets into the content, ``detection`` the detector id
  (``pii.my_number``), ``detection_type`` one of ``pii``, ``secret``, ``prompt_injection``,
  ``deny_list``;
* errors: ``{"code": <int>, "message": "..."}`` with 404 (unknown detector-id) or 422
  (invalid body), as the API's ``Error`` schema says.

``GET /health`` answers 200. The server has no authentication: bind it to the pod network
or loopback (default 127.0.0.1) and let OpenShift's network policy decide who may call it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from prai.config.guard import DETECTOR_GROUPS
from prai.errors import ConfigError
from prai.guard.policy import Guardrails, Policy
from prai.guard.scanner import DETECTORS, Finding, Scanner

#: Largest request body accepted (bytes); larger bodies get 413.
MAX_BODY_BYTES = 8 * 1024 * 1024


class ContentsRequest(BaseModel):
    """``ContentAnalysisHttpRequest`` of the detector API."""

    model_config = ConfigDict(extra="forbid")
    contents: list[str] = Field(min_length=1)
    detector_params: dict[str, Any] = Field(default_factory=dict)


def _error(code: int, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=code)


class _Selector:
    """What one ``detector-id`` means: a scanner and a filter on its findings."""

    def __init__(self, scanner: Scanner, keep: Any) -> None:
        self.scanner = scanner
        self.keep = keep

    def run(self, text: str) -> list[Finding]:
        return [f for f in self.scanner.scan(text) if self.keep(f)]


def build_app(guardrails: Guardrails | None = None) -> Starlette:
    """The ASGI app (Starlette) serving the detector API.

    Args:
        guardrails: the kitchen's policies (built-in ones when None).
    """
    rails = guardrails or Guardrails()
    base = Scanner()
    base.load()  # the first request waits for no lazy table (as the gateway's guard)
    selectors: dict[str, _Selector] = {"all": _Selector(base, lambda f: True)}
    for group in DETECTOR_GROUPS:
        selectors[group] = _Selector(base, lambda f, g=group: f.detector.startswith(g + "."))
    for det in DETECTORS:
        selectors[det] = _Selector(base, lambda f, d=det: f.detector == d)

    def selector(name: str) -> _Selector | None:
        if name in selectors:
            return selectors[name]
        if name in rails.names:
            policy: Policy = rails.policy(name)
            sel = _Selector(
                policy.scanner, lambda f, p=policy: p.action(f.detector, "input") != "allow"
            )
            selectors[name] = sel
            return sel
        return None

    async def contents(request: Request) -> JSONResponse:
        name = request.headers.get("detector-id", "").strip()
        if not name:
            return _error(422, "the detector-id header is required (e.g. detector-id: pii)")
        try:
            sel = selector(name)
        except ConfigError as exc:
            return _error(422, f"detector-id {name!r}: {exc.message}")
        if sel is None:
            known = ["all", *DETECTOR_GROUPS, *rails.names, "<detector id>"]
            return _error(404, f"unknown detector-id {name!r}; use one of: {', '.join(known)}")
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return _error(413, f"the body is larger than {MAX_BODY_BYTES} bytes")
        try:
            req = ContentsRequest.model_validate_json(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            return _error(422, f"invalid request body: {problems}")
        if sum(len(c) for c in req.contents) > 64 * 1024:  # keep the event loop responsive
            findings = await run_in_threadpool(lambda: [sel.run(c) for c in req.contents])
        else:
            findings = [sel.run(c) for c in req.contents]
        result = [
            [
                {
                    "start": f.start,
                    "end": f.end,
                    "text": f.text,
                    "detection": f.detector,
                    "detection_type": f.detection_type,
                    "score": f.score,
                }
                for f in found
            ]
            for found in findings
        ]
        return JSONResponse(result)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/api/v1/text/contents", contents, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )


__all__ = ["MAX_BODY_BYTES", "ContentsRequest", "build_app"]
