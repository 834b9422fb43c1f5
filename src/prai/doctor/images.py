"""images: every image the kitchen runs is internal and digest-pinned (seed §6, §14).

An image is internal when its registry host is ``cluster.registry`` or ends with one of
``cluster.internal_domains``; pinned when it carries ``@sha256:<64 hex>``. With
``--live``, the registry must answer ``GET /v2/<repo>/manifests/<digest>`` (Distribution
API, https://distribution.github.io/distribution/spec/api/) over TLS verified with the
internal CA, with Basic or Bearer-token auth from PRAI_REGISTRY_USERNAME/PASSWORD.
"""

from __future__ import annotations

from prai._http import http_client
from prai.doctor.plan import DoctorPlan
from prai.doctor.report import DoctorReport

AREA = "images"
_ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def _host(repository: str) -> str | None:
    first = repository.split("/", 1)[0]
    return first if "/" in repository and ("." in first or ":" in first or first == "localhost") else None


def _internal(host: str | None, plan: DoctorPlan) -> bool:
    if host is None:
        return False  # docker.io implied
    if plan.registry and host == plan.registry:
        return True
    name = host.split(":", 1)[0]
    return any(name == d or name.endswith("." + d) for d in plan.internal_domains)


def check_images(plan: DoctorPlan, report: DoctorReport) -> None:
    """Add one check per image (and one per registry answer with ``--live``)."""
    from prai.bundle.images import parse_image_ref
    from prai.errors import PraiError

    if not plan.images:
        report.add(AREA, "images", "SKIP", "no cluster.images in kitchen.yaml")
        return
    for label, ref in plan.images:
        try:
            image, _ = parse_image_ref(ref)
        except PraiError as exc:
            report.add(AREA, label, "FAIL", f"{ref!r}: {exc.message}", exc.hint)
            continue
        host = _host(image.repository)
        if not _internal(host, plan):
            report.add(AREA, label, "FAIL",
                       f"{ref} is pulled from {host or 'docker.io'}, outside the closed network",
                       f"mirror it into {plan.registry or 'the internal registry'} (oc image "
                       "mirror / oc-mirror) and reference the mirror (seed §6)")
            continue
        if image.digest is None:
            report.add(AREA, label, "FAIL", f"{ref} is not digest-pinned (a tag can move)",
                       "reference it as repo@sha256:… (skopeo inspect docker://… shows the digest)")
            continue
        report.add(AREA, label, "PASS", f"{ref}: internal ({host}), pinned by digest")
        if plan.live and host is not None:
            _registry_answers(plan, report, label, host, image.repository.split("/", 1)[1],
                              image.digest)


def _registry_answers(plan: DoctorPlan, report: DoctorReport, label: str, host: str, repo: str,
                      digest: str) -> None:
    import httpx

    user = plan.env.get("PRAI_REGISTRY_USERNAME")
    password = plan.env.get("PRAI_REGISTRY_PASSWORD")
    url = f"https://{host}/v2/{repo}/manifests/{digest}"
    try:
        with http_client(ca_file=plan.ca_file, timeout_s=10) as c:
            r = c.get(url, headers={"Accept": _ACCEPT})
            if r.status_code == 401 and user and password:
                challenge = r.headers.get("www-authenticate", "")
                if challenge.lower().startswith("bearer"):
                    params = dict(p.split("=", 1) for p in challenge[7:].replace('"', "").split(","))
                    tok = c.get(params.pop("realm"), params={**params, "scope": f"repository:{repo}:pull"},
                                auth=(user, password))
                    body = tok.json() if tok.status_code == 200 else {}
                    token = body.get("token") or body.get("access_token")
                    r = c.get(url, headers={"Accept": _ACCEPT, "Authorization": f"Bearer {token}"})
                else:
                    r = c.get(url, headers={"Accept": _ACCEPT}, auth=(user, password))
    except httpx.HTTPError as exc:
        report.add(AREA, f"{label} registry", "FAIL", f"{url}: {type(exc).__name__}: {exc}",
                   "疎通/証明書: check the registry route and that cluster.ca_bundle signed its "
                   "certificate (run --only certs)")
        return
    if r.status_code == 200:
        report.add(AREA, f"{label} registry", "PASS", f"{host} serves {repo}@{digest[:19]}…")
    elif r.status_code == 401:
        report.add(AREA, f"{label} registry", "WARN", f"{host} asks for credentials (401)",
                   "export PRAI_REGISTRY_USERNAME / PRAI_REGISTRY_PASSWORD to let doctor look")
    else:
        report.add(AREA, f"{label} registry", "FAIL",
                   f"{host} answered {r.status_code} for {repo}@{digest[:19]}…",
                   "mirror the image again (oc-mirror) — the internal registry lacks this digest")


__all__ = ["check_images"]
