"""Cluster-wide and gateway objects: IDMS, gateway Deployment/Service/Route/policies,
ServiceMonitors, PrometheusRule, Grafana dashboard ConfigMap.

Formats: ImageDigestMirrorSet ``config.openshift.io/v1``; Route ``route.openshift.io/v1``
(``tls.termination`` edge | reencrypt; reencrypt uses a service-serving certificate from
the ``service.beta.openshift.io/serving-cert-secret-name`` annotation); ServiceMonitor and
PrometheusRule ``monitoring.coreos.com/v1`` (Prometheus Operator); the dashboard ConfigMap
carries the ``grafana_dashboard: "1"`` label that Grafana's dashboard sidecar watches.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

import yaml

from prai.deploy._common import (
    CA_CONFIGMAP,
    CA_DIR,
    CA_KEY,
    GATEWAY_APP,
    GATEWAY_PORT,
    VLLM_PORT,
    Obj,
    Plan,
    meta,
)
from prai.deploy._dashboard import dashboard_json
from prai.deploy._model import ca_configmap

GATEWAY_CONFIG_PATH = "/etc/prai/kitchen.yaml"
GATEWAY_TLS_SECRET = "prai-gateway-tls"
GATEWAY_ENV_SECRET = "prai-gateway-env"


def image_digest_mirror_set(plan: Plan) -> Obj:
    """Redirects pulls of the source repositories to the internal mirrors, never the source."""
    imgs = [plan.cluster.images.vllm, plan.cluster.images.prai]
    imgs += [m.cfg.storage.oci for m in plan.models if m.cfg.storage.oci is not None]
    by_source: dict[str, set[str]] = {}
    for i in imgs:
        by_source.setdefault(i.source, set()).add(i.mirror)
    return {
        "apiVersion": "config.openshift.io/v1",
        "kind": "ImageDigestMirrorSet",
        "metadata": meta("prai-kitchen", None, "image-mirrors"),
        "spec": {"imageDigestMirrors": [
            {"source": s, "mirrors": sorted(m), "mirrorSourcePolicy": "NeverContactSource"}
            for s, m in sorted(by_source.items())
        ]},
    }


def gateway_config(plan: Plan) -> dict[str, Any]:
    """The gateway's kitchen.yaml inside the cluster.

    The ``gateway:`` section of the user's kitchen.yaml as written (``${ENV}`` references
    kept: they are resolved in the pod from the ``prai-gateway-env`` Secret), with the
    listen address set and the upstreams replaced by the rendered InferenceServices.
    Without a gateway section, one tenant/project per namespace is derived.
    """
    raw = dict(plan.gateway_raw or {})
    raw["host"] = "0.0.0.0"
    raw["port"] = GATEWAY_PORT
    ups = []
    for mp in plan.models:
        m = mp.cfg
        ups.append({
            "name": m.name,
            "base_urls": [f"http://{m.name}-predictor.{m.namespace}.svc.cluster.local"],
            "models": [m.name] + [a.name for a, _ in mp.adapters],
        })
    raw["upstreams"] = ups
    if not raw.get("tenants"):
        tenants: OrderedDict[str, list[Obj]] = OrderedDict()
        for ns in plan.cluster.namespaces:
            served = [n for mp in plan.models if mp.cfg.namespace == ns.name
                      for n in [mp.cfg.name] + [a.name for a, _ in mp.adapters]]
            tenants.setdefault(ns.tenant, []).append(
                {"name": ns.project, "models": served or ["*"]})
        raw["tenants"] = [{"name": t, "projects": p} for t, p in tenants.items()]
    return {"version": 1, "gateway": raw}


def _gateway_labels() -> dict[str, str]:
    return {"app.kubernetes.io/name": GATEWAY_APP}


def gateway_objects(plan: Plan) -> list[Obj]:
    """Namespace, data PVC, config, Deployment, Service, Route and policies of the gateway."""
    c = plan.cluster
    g = c.gateway
    ns = g.namespace
    cfg_text = yaml.safe_dump(gateway_config(plan), sort_keys=True, allow_unicode=True,
                              default_flow_style=False)
    objs: list[Obj] = [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": meta(ns, None, "gateway",
                          annotations={"openshift.io/display-name": "PrAI gateway"})},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": meta("prai-gateway-config", ns, "gateway"),
         "data": {"kitchen.yaml": cfg_text}},
    ]
    pvc_spec: Obj = {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": g.data_size}}}
    if g.storage_class:
        pvc_spec["storageClassName"] = g.storage_class
    objs.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                 "metadata": meta("prai-gateway-data", ns, "gateway"), "spec": pvc_spec})
    ca = ca_configmap(plan, ns)
    env: list[Obj] = [
        {"name": "PRAI_CACHE_DIR", "value": "/var/lib/prai"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]
    volumes: list[Obj] = [
        {"name": "config", "configMap": {"name": "prai-gateway-config"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": "prai-gateway-data"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[Obj] = [
        {"name": "config", "mountPath": "/etc/prai", "readOnly": True},
        {"name": "data", "mountPath": "/var/lib/prai"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if ca is not None:
        objs.append(ca)
        env += [{"name": k, "value": f"{CA_DIR}/{CA_KEY}"}
                for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")]
        volumes.append({"name": "trusted-ca", "configMap": {
            "name": CA_CONFIGMAP, "items": [{"key": CA_KEY, "path": CA_KEY}]}})
        mounts.append({"name": "trusted-ca", "mountPath": CA_DIR, "readOnly": True})
    args = ["gateway", "--config", GATEWAY_CONFIG_PATH]
    scheme = "HTTP"
    if g.tls == "reencrypt":
        volumes.append({"name": "tls", "secret": {"secretName": GATEWAY_TLS_SECRET}})
        mounts.append({"name": "tls", "mountPath": "/etc/prai/tls", "readOnly": True})
        args += ["--tls-cert", "/etc/prai/tls/tls.crt", "--tls-key", "/etc/prai/tls/tls.key"]
        scheme = "HTTPS"
    # Liveness: the process answers (a restart cures nothing else). Readiness: an upstream
    # answers the gateway's background health checks, else the pod leaves the Service's
    # endpoints (prai.gateway.app.READINESS_PATHS).
    def probe(path: str) -> Obj:
        return {"httpGet": {"path": path, "port": "http", "scheme": scheme},
                "periodSeconds": 10, "timeoutSeconds": 3}

    container: Obj = {
        "name": "gateway",
        "image": c.images.prai.ref,
        "args": args,
        "env": env,
        "envFrom": [{"secretRef": {"name": GATEWAY_ENV_SECRET, "optional": True}}],
        "ports": [{"name": "http", "containerPort": GATEWAY_PORT, "protocol": "TCP"}],
        "readinessProbe": probe("/readyz"),
        "livenessProbe": {**probe("/livez"), "failureThreshold": 6},
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"},
                      "limits": {"memory": "2Gi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
        },
        "volumeMounts": mounts,
    }
    objs.append({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": meta(GATEWAY_APP, ns, "gateway"),
        "spec": {
            "replicas": g.replicas,
            "selector": {"matchLabels": _gateway_labels()},
            "strategy": {"type": "Recreate" if g.replicas == 1 else "RollingUpdate"},
            "template": {
                "metadata": {"labels": {**_gateway_labels(), "app.kubernetes.io/part-of":
                                        "prai-kitchen"},
                             "annotations": {"prai.io/config-sha256": _sha(cfg_text)}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    })
    svc_ann = ({"service.beta.openshift.io/serving-cert-secret-name": GATEWAY_TLS_SECRET}
               if g.tls == "reencrypt" else None)
    objs.append({
        "apiVersion": "v1", "kind": "Service",
        "metadata": meta(GATEWAY_APP, ns, "gateway", annotations=svc_ann),
        "spec": {"selector": _gateway_labels(), "ports": [
            {"name": "http", "port": GATEWAY_PORT, "targetPort": "http", "protocol": "TCP"}]},
    })
    tls: Obj = {"termination": g.tls, "insecureEdgeTerminationPolicy": "Redirect"}
    objs.append({
        "apiVersion": "route.openshift.io/v1", "kind": "Route",
        "metadata": meta(GATEWAY_APP, ns, "gateway",
                         annotations={"haproxy.router.openshift.io/timeout": "600s"}),
        "spec": {"host": g.host, "to": {"kind": "Service", "name": GATEWAY_APP, "weight": 100},
                 "port": {"targetPort": "http"}, "tls": tls, "wildcardPolicy": "None"},
    })
    objs += [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": meta("prai-default-deny-ingress", ns, "network-policy"),
         "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": meta("prai-allow-router-and-monitoring", ns, "network-policy"),
         "spec": {
             "podSelector": {"matchLabels": _gateway_labels()},
             "policyTypes": ["Ingress"],
             "ingress": [
                 {"from": [{"namespaceSelector": {"matchLabels": {
                     "policy-group.network.openshift.io/ingress": ""}}}],
                  "ports": [{"port": GATEWAY_PORT, "protocol": "TCP"}]},
                 {"from": [{"namespaceSelector": {"matchLabels": {
                     "kubernetes.io/metadata.name": c.monitoring.namespace}}}],
                  "ports": [{"port": GATEWAY_PORT, "protocol": "TCP"}]},
             ],
         }},
    ]
    return objs


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def monitoring_objects(plan: Plan) -> list[Obj]:
    """ServiceMonitors (gateway, each model), the PrometheusRule and the dashboard."""
    c = plan.cluster
    gns = c.gateway.namespace
    scheme = "https" if c.gateway.tls == "reencrypt" else "http"
    gw_ep: Obj = {"port": "http", "path": "/metrics", "interval": "30s", "scheme": scheme}
    if scheme == "https":
        gw_ep["tlsConfig"] = {
            "ca": {"configMap": {"name": "openshift-service-ca.crt", "key": "service-ca.crt"}},
            "serverName": f"{GATEWAY_APP}.{gns}.svc",
        }
    objs: list[Obj] = [{
        "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
        "metadata": meta(GATEWAY_APP, gns, "monitoring"),
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY_APP}},
                 "endpoints": [gw_ep]},
    }]
    for mp in plan.models:
        m = mp.cfg
        objs.append({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": meta(f"{m.name}-vllm", m.namespace, "monitoring"),
            "spec": {
                "selector": {"matchLabels": {"serving.kserve.io/inferenceservice": m.name}},
                "endpoints": [{"targetPort": VLLM_PORT, "path": "/metrics", "interval": "30s",
                               "scheme": "http"}],
            },
        })
    mon = c.monitoring
    rules = [
        {"alert": "PraiGatewayHighErrorRate",
         "expr": (f'sum(rate(prai_gateway_requests_total{{status=~"5.."}}[5m])) / '
                  "clamp_min(sum(rate(prai_gateway_requests_total[5m])), 1e-9) "
                  f"> {mon.error_rate}"),
         "for": "5m", "labels": {"severity": "warning"},
         "annotations": {"summary": "PrAI gateway: more than "
                         f"{mon.error_rate:.0%} of requests failed (5xx) over 5 minutes",
                         "description": "Check upstream health (prai_gateway_upstream_healthy) "
                         "and the vLLM pod logs (seed §14: oc logs)."}},
        {"alert": "PraiHighTimeToFirstToken",
         "expr": ("histogram_quantile(0.95, sum by (le, model) "
                  "(rate(prai_gateway_time_to_first_token_seconds_bucket[5m]))) "
                  f"> {mon.ttft_p95_s}"),
         "for": "10m", "labels": {"severity": "warning"},
         "annotations": {"summary": f"TTFT p95 above {mon.ttft_p95_s}s for {{{{ $labels.model }}}}",
                         "description": "Queueing or long prompts: look at "
                         "vllm:num_requests_waiting and KV cache usage."}},
        {"alert": "PraiVllmQueueDepth",
         "expr": f"max by (namespace, model_name) (vllm:num_requests_waiting) > {mon.queue_depth}",
         "for": "5m", "labels": {"severity": "warning"},
         "annotations": {"summary": f"more than {mon.queue_depth} requests waiting in vLLM",
                         "description": "Add replicas or GPUs, or lower per-project limits in "
                         "the gateway."}},
    ]
    objs.append({
        "apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
        "metadata": meta("prai-kitchen", gns, "monitoring"),
        "spec": {"groups": [{"name": "prai-kitchen", "rules": rules}]},
    })
    objs.append({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": meta("prai-grafana-dashboard", gns, "monitoring",
                         labels_extra={"grafana_dashboard": "1"}),
        "data": {"prai-kitchen.json": json.dumps(plan.dashboard or dashboard_json(), indent=2,
                                                 sort_keys=True, ensure_ascii=False) + "\n"},
    })
    return objs


__all__ = ["gateway_config", "gateway_objects", "image_digest_mirror_set", "monitoring_objects"]
