"""Files outside the kustomization: oc-mirror's ImageSetConfiguration and Kong's config.

- ``connected/imageset-config.yaml``: oc-mirror v2 (``mirror.openshift.io/v2alpha1``,
  ``mirror.additionalImages``), run on the connected side:
  ``oc mirror -c imageset-config.yaml file://bring-in --v2``, then in the closed network
  ``oc mirror -c imageset-config.yaml --from file://bring-in docker://REGISTRY --v2``.
- ``kong/kong.yaml``: Kong declarative configuration (``_format_version: "3.0"``, applied
  with ``deck gateway sync``): one consumer per tenant/project with ``key-auth`` and
  ``rate-limiting`` (requests/minute), a consumer-scoped ``request-transformer`` that
  swaps the Kong key for the project's PrAI key, and a route ``/v1`` to the PrAI gateway.
  Keys are never written: decK reads them from ``DECK_*`` environment variables.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from prai.deploy._common import Obj, Plan
from prai.deploy._platform import gateway_config


def imageset_config(plan: Plan) -> Obj:
    """Every image the kitchen needs, by source digest, for oc-mirror v2."""
    c = plan.cluster
    imgs = {c.images.vllm.source_ref, c.images.prai.source_ref}
    imgs |= {m.cfg.storage.oci.source_ref for m in plan.models if m.cfg.storage.oci is not None}
    return {
        "apiVersion": "mirror.openshift.io/v2alpha1",
        "kind": "ImageSetConfiguration",
        "mirror": {"additionalImages": [{"name": i} for i in sorted(imgs)]},
    }


def _env_name(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Z0-9]", "_", p.upper()) for p in parts)


def kong_env_names(plan: Plan) -> list[tuple[str, str]]:
    """(Kong consumer key variable, PrAI key variable) per tenant/project, sorted."""
    out = []
    for t in gateway_config(plan)["gateway"]["tenants"]:
        for p in t["projects"]:
            out.append((_env_name("DECK_KEY", t["name"], p["name"]),
                        _env_name("DECK_PRAI_KEY", t["name"], p["name"])))
    return sorted(out)


def kong_config(plan: Plan) -> dict[str, Any]:
    """Kong declarative configuration routing every project to the PrAI gateway Route."""
    c = plan.cluster
    service: Obj = {
        "name": "prai-gateway",
        "url": f"https://{c.gateway.host}",
        "connect_timeout": 5000,
        "read_timeout": 600000,
        "write_timeout": 600000,
        "retries": 0,
        "routes": [{"name": "prai-openai-v1", "paths": ["/v1"], "strip_path": False,
                    "protocols": ["https"], "preserve_host": False}],
        "plugins": [{"name": "key-auth",
                     "config": {"key_names": ["apikey"], "hide_credentials": True}}],
    }
    doc: dict[str, Any] = {"_format_version": "3.0"}
    if plan.ca_pem is not None:
        ca_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "prai:ca:" + plan.ca_pem))
        doc["ca_certificates"] = [{"id": ca_id, "cert": plan.ca_pem}]
        service["tls_verify"] = True
        service["ca_certificates"] = [ca_id]
    consumers = []
    for t in gateway_config(plan)["gateway"]["tenants"]:
        for p in t["projects"]:
            rpm = ((p.get("limits") or {}).get("requests_per_minute")
                   or c.gateway.entrance_requests_per_minute)
            kong_key = _env_name("DECK_KEY", t["name"], p["name"])
            prai_key = _env_name("DECK_PRAI_KEY", t["name"], p["name"])
            consumers.append({
                "username": f"{t['name']}.{p['name']}",
                "custom_id": f"{t['name']}/{p['name']}",
                "keyauth_credentials": [{"key": '${{ env "' + kong_key + '" }}'}],
                "plugins": [
                    {"name": "rate-limiting",
                     "config": {"minute": int(rpm), "policy": "local", "limit_by": "consumer"}},
                    {"name": "request-transformer", "config": {
                        "remove": {"headers": ["Authorization"]},
                        "add": {"headers": ['Authorization:Bearer ${{ env "' + prai_key + '" }}']},
                    }},
                ],
            })
    doc["services"] = [service]
    doc["consumers"] = sorted(consumers, key=lambda x: x["username"])
    return doc


__all__ = ["imageset_config", "kong_config", "kong_env_names"]
