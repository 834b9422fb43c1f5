"""endpoint: the served API answers like the seed's taste test (味見, seed §11).

Order: DNS/TCP/TLS to the endpoint (the CA of kitchen.yaml), ``GET /health`` (200),
``GET /v1/models`` lists the base model and every adapter (vLLM lists adapters with
``parent`` = the base), then :func:`prai.doctor.taste.taste_test` (「こんにちは」, streamed) for
each of them: content non-empty, TTFT (seconds) and decode rate reported. With an API
key (``--api-key`` or ``doctor.api_key_env``) every request carries
``Authorization: Bearer``, so the same checks run through the PrAI gateway. The key is
never printed or put in the report.
"""

from __future__ import annotations

from typing import Any

from prai._http import http_client
from prai.doctor._net import probe
from prai.doctor.plan import DoctorPlan
from prai.doctor.report import DoctorReport

AREA = "endpoint"
TIMEOUT_S = 120.0


def check_endpoint(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add the endpoint checks (see the module docstring)."""
    import httpx

    from prai.doctor.taste import TASTE_PROMPT, taste_test
    from prai.errors import PraiError

    url = plan.endpoint
    if not url:
        report.add(AREA, "endpoint", "SKIP", "no endpoint: pass --endpoint URL (or doctor.endpoint)")
        return
    url = url.rstrip("/").removesuffix("/v1")
    if not probe(report, AREA, "route", url, plan.endpoint_ca):
        if report.checks[-1].name == "route tcp":
            report.checks[-1].remediation = (
                f"疎通: nothing answers at {url}: is the engine running? (oc -n NS get pods; "
                "oc logs POD -c kserve-container); inside the pod try http://localhost:8000 "
                "(seed §11)")
        return
    verify: Any = str(plan.endpoint_ca) if plan.endpoint_ca else True
    headers = {"Authorization": f"Bearer {plan.api_key}"} if plan.api_key else {}
    via = " (with the API key)" if plan.api_key else ""
    with http_client(ca_file=plan.endpoint_ca, timeout_s=30.0, headers=headers) as c:
        try:
            r = c.get(f"{url}/health")
            if r.status_code == 200:
                report.add(AREA, "health", "PASS", f"GET {url}/health → 200")
            else:
                report.add(AREA, "health", "FAIL", f"GET {url}/health → {r.status_code}",
                           "the server is up but not ready: read its log (oc logs POD)")
        except httpx.HTTPError as exc:
            report.add(AREA, "health", "FAIL", f"GET {url}/health: {type(exc).__name__}",
                       "疎通: the engine dropped the connection; read its log (oc logs POD)")
            return
        try:
            r = c.get(f"{url}/v1/models")
        except httpx.HTTPError as exc:
            report.add(AREA, "models", "FAIL", f"GET {url}/v1/models: {type(exc).__name__}",
                       "read the engine log (oc logs POD)")
            return
    if r.status_code in (401, 403):
        report.add(AREA, "models", "FAIL", f"GET /v1/models{via} → {r.status_code}",
                   "pass a valid gateway key with --api-key (or doctor.api_key_env); "
                   "create one with `prai keys create`")
        return
    try:
        listed = [str(m["id"]) for m in r.json()["data"]]
    except (ValueError, KeyError, TypeError):
        report.add(AREA, "models", "FAIL", f"GET /v1/models → {r.status_code}, not an OpenAI model list",
                   "point --endpoint at the OpenAI-compatible server (vLLM or the PrAI gateway)")
        return
    expected = plan.expected_models or listed
    missing = [m for m in expected if m not in listed]
    if missing:
        report.add(AREA, "models", "FAIL",
                   f"/v1/models lists {', '.join(listed) or 'nothing'}; missing {', '.join(missing)}",
                   "start the engine with --enable-lora --lora-modules NAME=PATH for each adapter "
                   "(seed §13 Tips), or allow the model for this key's project", listed=listed)
    else:
        report.add(AREA, "models", "PASS", f"/v1/models{via} lists {', '.join(listed)}", listed=listed)
    for name in [m for m in expected if m in listed]:
        try:
            t = taste_test(url, name, api_key=plan.api_key, verify=verify, timeout_s=TIMEOUT_S)
        except PraiError as exc:
            report.add(AREA, f"taste {name}", "FAIL", f"「{TASTE_PROMPT}」 → {exc.message}",
                       "味見 failed: read the engine log (oc logs POD); try it inside the pod with "
                       "curl localhost:8000 to rule out the route (seed §11)")
            continue
        answer = t.content.replace("\n", " ")
        report.add(AREA, f"taste {name}", "PASS",
                   f"「{TASTE_PROMPT}」 → 「{answer[:60]}{'…' if len(answer) > 60 else ''}」; TTFT "
                   f"{t.ttft_s * 1000:.0f} ms, {t.tokens_per_s:.1f} tokens/s",
                   content=t.content, ttft_s=t.ttft_s, tokens_per_s=t.tokens_per_s,
                   completion_tokens=t.completion_tokens, e2e_s=t.e2e_s)


__all__ = ["check_endpoint"]
