"""endpoint: the served API answers like the seed's taste test (味見, seed §11).

Which endpoints: ``--endpoint`` (or ``doctor.endpoint``, or the base URL of an upstream
that ``prai up`` starts); without one, every replica of every ``gateway.upstreams`` entry
of kitchen.yaml, with that upstream's CA bundle and API key (check names then start with
``upstream NAME``).

Order per endpoint: DNS/TCP/TLS (the CA of kitchen.yaml), ``GET /health`` (200),
``GET /v1/models`` lists the base model and every adapter (vLLM lists adapters with
``parent`` = the base), then :func:`prai.doctor.taste.taste_any` (「こんにちは」) for each of
them in the API the model serves: chat, completions or embeddings, chosen from the model's
``config.json`` and chat template (the directory doctor checks, or vLLM's ``root`` in
/v1/models when it is visible here) and the engine's ``--runner``; when nothing tells, chat
first, then embeddings, then completions. The evidence says which API answered.

Every request waits at most ``plan.timeout_s`` seconds (``--timeout``,
PRAI_DOCTOR_TIMEOUT_S; default 5) for a silent server: an engine that accepts connections
but never answers FAILs in that time. With an API key (``--api-key`` or
``doctor.api_key_env``) every request carries ``Authorization: Bearer``, so the same
checks run through the PrAI gateway. The key is never printed or put in the report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prai._http import http_client
from prai.doctor._net import probe
from prai.doctor.plan import DoctorPlan, EndpointTarget
from prai.doctor.report import DoctorReport

AREA = "endpoint"


def _silent(url: str, timeout_s: float) -> str:
    return (f"疎通: {url} accepts connections but did not answer within {timeout_s:g} s: the engine is "
            "still loading, hung or saturated — read its log (oc logs POD; prai serve's output), check "
            "its CPU/GPU load, and pass --timeout SECONDS if it is only slow")


def targets(plan: DoctorPlan) -> list[EndpointTarget]:
    """The endpoints to check: the plan's endpoint, else the gateway's upstreams."""
    if plan.endpoint:
        return [EndpointTarget(label="", url=plan.endpoint, ca=plan.endpoint_ca, api_key=plan.api_key,
                               expected=list(plan.expected_models))]
    return list(plan.upstreams)


def check_endpoint(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the endpoint checks (see the module docstring)."""
    todo = targets(plan)
    if not todo:
        report.add(AREA, "endpoint", "SKIP",
                   "no endpoint: pass --endpoint URL (or doctor.endpoint, or gateway.upstreams)")
        return
    for t in todo:
        _check_target(plan, t, report)


def _check_target(plan: DoctorPlan, t: EndpointTarget, report: DoctorReport) -> None:
    import httpx

    p = f"{t.label} " if t.label else ""
    url = t.url.rstrip("/").removesuffix("/v1")
    timeout = plan.timeout_s
    if not probe(report, AREA, t.label or "route", url, t.ca, timeout_s=min(5.0, timeout)):
        last = report.checks[-1]
        if last.name.endswith(" tcp"):
            last.remediation = (
                f"疎通: nothing answers at {url}: is the engine running? (oc -n NS get pods; "
                "oc logs POD -c kserve-container); inside the pod try http://localhost:8000 "
                "(seed §11)")
        return
    verify: Any = str(t.ca) if t.ca else True
    headers = {"Authorization": f"Bearer {t.api_key}"} if t.api_key else {}
    via = " (with the API key)" if t.api_key else ""
    with http_client(ca_file=t.ca, timeout_s=timeout, headers=headers) as c:
        try:
            r = c.get(f"{url}/health")
            if r.status_code == 200:
                report.add(AREA, f"{p}health", "PASS", f"GET {url}/health → 200")
            else:
                report.add(AREA, f"{p}health", "FAIL", f"GET {url}/health → {r.status_code}",
                           "the server is up but not ready: read its log (oc logs POD)")
        except httpx.TimeoutException:
            report.add(AREA, f"{p}health", "FAIL", f"GET {url}/health: no answer within {timeout:g} s",
                       _silent(url, timeout), timeout_s=timeout)
            return
        except httpx.HTTPError as exc:
            report.add(AREA, f"{p}health", "FAIL", f"GET {url}/health: {type(exc).__name__}",
                       "疎通: the engine closed the connection without an answer; read its log (oc logs POD)")
            return
        try:
            r = c.get(f"{url}/v1/models")
        except httpx.TimeoutException:
            report.add(AREA, f"{p}models", "FAIL", f"GET {url}/v1/models: no answer within {timeout:g} s",
                       _silent(url, timeout), timeout_s=timeout)
            return
        except httpx.HTTPError as exc:
            report.add(AREA, f"{p}models", "FAIL", f"GET {url}/v1/models: {type(exc).__name__}",
                       "read the engine log (oc logs POD)")
            return
    if r.status_code in (401, 403):
        report.add(AREA, f"{p}models", "FAIL", f"GET /v1/models{via} → {r.status_code}",
                   "pass a valid gateway key with --api-key (or doctor.api_key_env); "
                   "create one with `prai keys create -c kitchen.yaml` (the gateway's own kitchen)")
        return
    try:
        cards = {str(m["id"]): m for m in r.json()["data"]}
    except (ValueError, KeyError, TypeError):
        report.add(AREA, f"{p}models", "FAIL", f"GET /v1/models → {r.status_code}, not an OpenAI model list",
                   "point --endpoint at the OpenAI-compatible server (vLLM or the PrAI gateway)")
        return
    listed = list(cards)
    expected = t.expected or listed
    missing = [m for m in expected if m not in listed]
    if missing:
        report.add(AREA, f"{p}models", "FAIL",
                   f"/v1/models lists {', '.join(listed) or 'nothing'}; missing {', '.join(missing)}",
                   "start the engine with --enable-lora --lora-modules NAME=PATH for each adapter "
                   "(seed §13 Tips), or allow the model for this key's project", listed=listed)
    else:
        report.add(AREA, f"{p}models", "PASS", f"/v1/models{via} lists {', '.join(listed)}", listed=listed)
    for name in [m for m in expected if m in listed]:
        _taste(plan, t, url, name, cards, report, verify)


def _api_for(plan: DoctorPlan, name: str, cards: dict[str, Any]) -> tuple[Any, str]:
    """(api or None, why) for a served name: the plan's model directory and engine flags,
    else the directory vLLM reports as the model's ``root`` when it is visible here."""
    from prai.doctor.taste import served_api

    card = cards.get(name) or {}
    parent = card.get("parent") if isinstance(card, dict) else None
    for m in plan.models:
        if name == m.name or name in m.adapters or (parent and parent == m.name):
            api, why = served_api(m.dir if m.dir.is_dir() else None, m.engine_args)
            if api is not None:
                return api, why
    base = cards.get(parent) if parent else card
    root = base.get("root") if isinstance(base, dict) else None
    if isinstance(root, str) and root.startswith("/") and Path(root).is_dir():
        return served_api(Path(root))
    return None, ""


def _taste(plan: DoctorPlan, t: EndpointTarget, url: str, name: str, cards: dict[str, Any],
           report: DoctorReport, verify: Any) -> None:
    from prai.doctor.taste import TASTE_PROMPT, taste_any
    from prai.errors import PraiError

    p = f"{t.label} " if t.label else ""
    api, why = _api_for(plan, name, cards)
    try:
        res, not_served = taste_any(url, name, api=api, api_key=t.api_key, verify=verify,
                                    timeout_s=plan.timeout_s)
    except PraiError as exc:
        silent = "no answer within" in exc.message
        report.add(AREA, f"{p}taste {name}", "FAIL", f"「{TASTE_PROMPT}」 → {exc.message}",
                   _silent(url, plan.timeout_s) if silent else
                   "味見 failed: read the engine log (oc logs POD); try it inside the pod with "
                   "curl localhost:8000 to rule out the route (seed §11)", api=api)
        return
    how = f"via /v1{'/chat/completions' if res.api == 'chat' else '/' + res.api}"
    if why:
        how += f" ({why})"
    elif not_served:
        how += f" (not served: {'; '.join(not_served)})"
    if res.api == "embeddings":
        evidence = f"「{TASTE_PROMPT}」 → {res.content} in {res.e2e_s * 1000:.0f} ms {how}"
    else:
        answer = res.content.replace("\n", " ")
        evidence = (f"「{TASTE_PROMPT}」 → 「{answer[:60]}{'…' if len(answer) > 60 else ''}」; TTFT "
                    f"{res.ttft_s * 1000:.0f} ms, {res.tokens_per_s:.1f} tokens/s {how}")
    report.add(AREA, f"{p}taste {name}", "PASS", evidence,
               content=res.content, ttft_s=res.ttft_s, tokens_per_s=res.tokens_per_s,
               completion_tokens=res.completion_tokens, e2e_s=res.e2e_s, api=res.api,
               dimensions=res.dimensions)


__all__ = ["check_endpoint", "targets"]
