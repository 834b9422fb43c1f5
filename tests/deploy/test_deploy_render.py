"""`prai render` output: golden files, determinism, schema validation of every object."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from prai.deploy import render
from prai.deploy.validate import validate_document, validate_objects
from prai.errors import ManifestSchemaError
from tests.deploy._deploy_util import EXAMPLES, GOLDEN

CASES = {
    # golden dir: (example file, entrance)
    "kitchen-cluster": ("kitchen-cluster.yaml", "kong"),
    "kitchen-cluster-modelcar": ("kitchen-cluster-modelcar.yaml", "prai"),
}


def _read_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, crd_dir: Path) -> None:
    """The examples render byte for byte as recorded (PRAI_UPDATE_GOLDEN=1 re-records)."""
    example, entrance = CASES[case]
    result = render(EXAMPLES / example, entrance=entrance, crd_dir=crd_dir, env={})
    golden = GOLDEN / case
    if os.environ.get("PRAI_UPDATE_GOLDEN") == "1":
        shutil.rmtree(golden, ignore_errors=True)
        for rel, text in result.files.items():
            (golden / rel).parent.mkdir(parents=True, exist_ok=True)
            (golden / rel).write_text(text, encoding="utf-8")
    assert _read_tree(golden) == result.files


def test_render_is_deterministic(crd_dir: Path) -> None:
    a = render(EXAMPLES / "kitchen-cluster.yaml", entrance="kong", crd_dir=crd_dir, env={})
    b = render(EXAMPLES / "kitchen-cluster.yaml", entrance="kong", crd_dir=crd_dir, env={})
    assert a.files == b.files


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_output_validates_against_real_schemas(case: str, crd_dir: Path) -> None:
    """Each written file is re-read and validated; KServe kinds against the shared CRDs."""
    example, entrance = CASES[case]
    result = render(EXAMPLES / example, entrance=entrance, crd_dir=crd_dir, env={})
    docs = [(rel, yaml.safe_load(text)) for rel, text in result.files.items()
            if rel.endswith(".yaml") and "/" in rel and not rel.startswith(("connected/", "kong/"))]
    kustomization = yaml.safe_load(result.files["kustomization.yaml"])
    assert sorted(kustomization["resources"]) == sorted(rel for rel, _ in docs)
    used = validate_objects(docs, k8s_version="1.31", crd_dir=crd_dir)
    kinds = {d["kind"] for _, d in docs}
    assert {"InferenceService", "ServingRuntime", "Route", "ImageDigestMirrorSet",
            "ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Deployment", "Service",
            "Namespace", "ConfigMap"} <= kinds
    for rel, d in docs:
        if d["kind"] in ("InferenceService", "ServingRuntime"):
            assert used[rel].startswith("kserve-crd"), rel
        elif d["kind"] in ("Namespace", "Deployment", "Service", "ConfigMap", "Secret",
                           "NetworkPolicy", "PersistentVolumeClaim"):
            assert used[rel] == "kubernetes-validate 1.31", rel
    isc = yaml.safe_load(result.files["connected/imageset-config.yaml"])
    validate_document(isc, ("mirror.openshift.io/v2alpha1", "ImageSetConfiguration"), "isc",
                      k8s_version="1.31")
    if "kong/kong.yaml" in result.files:
        validate_document(yaml.safe_load(result.files["kong/kong.yaml"]), ("kong", "declarative"),
                          "kong", k8s_version="1.31")


def _objects(crd_dir: Path) -> dict[str, dict[str, Any]]:
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={})
    return {o["kind"] + "/" + o["metadata"]["name"]: o for _, o in result.objects}


@pytest.mark.parametrize(("key", "mutate", "expect"), [
    ("InferenceService/tsuzumi-7b",
     lambda o: o["spec"]["predictor"].__setitem__("modle", {}), "'modle' was unexpected"),
    ("InferenceService/tsuzumi-7b",
     lambda o: o["spec"]["predictor"].__setitem__("minReplicas", "one"), "minReplicas"),
    ("ServingRuntime/tsuzumi-7b-vllm",
     lambda o: o["spec"]["containers"][0].__setitem__("envv", []), "'envv' was unexpected"),
    ("Deployment/prai-gateway", lambda o: o["spec"].__setitem__("replicas", "two"), "replicas"),
    ("Route/prai-gateway", lambda o: o["spec"]["tls"].__setitem__("termination", "tls"),
     "termination"),
    ("ServiceMonitor/prai-gateway", lambda o: o["spec"].pop("endpoints"), "endpoints"),
    ("PrometheusRule/prai-kitchen",
     lambda o: o["spec"]["groups"][0]["rules"][0].__setitem__("for", "five minutes"), "for"),
    ("ImageDigestMirrorSet/prai-kitchen",
     lambda o: o["spec"]["imageDigestMirrors"][0].__setitem__("mirrorSourcePolicy", "Never"),
     "mirrorSourcePolicy"),
    ("NetworkPolicy/prai-default-deny-ingress",
     lambda o: o["spec"].__setitem__("policyType", ["Ingress"]), "policyType"),
    ("InferenceService/tsuzumi-7b",
     lambda o: o["metadata"].__setitem__("label", {}), "'label' was unexpected"),
])
def test_schema_rejects_broken_objects(key: str, mutate: Any, expect: str, crd_dir: Path) -> None:
    obj = copy.deepcopy(_objects(crd_dir)[key])
    validate_objects([("f.yaml", obj)], k8s_version="1.31", crd_dir=crd_dir)
    mutate(obj)
    with pytest.raises(ManifestSchemaError, match=expect):
        validate_objects([("f.yaml", obj)], k8s_version="1.31", crd_dir=crd_dir)


def test_unknown_kind_and_unsupported_version_are_errors(crd_dir: Path) -> None:
    with pytest.raises(ManifestSchemaError, match="no schema"):
        validate_objects([("x.yaml", {"apiVersion": "example.com/v1", "kind": "Widget",
                                      "metadata": {"name": "w"}})],
                         k8s_version="1.31", crd_dir=crd_dir)
    with pytest.raises(ManifestSchemaError, match=r"Kubernetes 1\.19"):
        validate_objects([("x.yaml", {"apiVersion": "v1", "kind": "Namespace",
                                      "metadata": {"name": "n"}})],
                         k8s_version="1.19", crd_dir=crd_dir)


def test_without_crds_kserve_is_noted(kitchen) -> None:
    result = render(kitchen(), crd_dir=None, env={})
    assert any("no KServe CRDs" in n and "oc get crd" in n for n in result.summary["notes"])


def test_shapes_follow_openshift_ai(crd_dir: Path) -> None:
    """The runtime copies the ODH template's labels/annotations/port; the ISVC is raw."""
    template = yaml.safe_load((crd_dir.parent / "odh" / "vllm-cuda-template.yaml").read_text())
    tmpl_rt = template["objects"][0]
    objs = _objects(crd_dir)
    rt = objs["ServingRuntime/tsuzumi-7b-vllm"]
    for k, v in tmpl_rt["metadata"]["labels"].items():
        assert rt["metadata"]["labels"][k] == v
    for k, v in tmpl_rt["spec"]["annotations"].items():
        if k != "prometheus.io/port" and k != "prometheus.io/path":
            assert rt["spec"]["annotations"][k] == v
    assert rt["spec"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert rt["spec"]["supportedModelFormats"] == tmpl_rt["spec"]["supportedModelFormats"]
    c = rt["spec"]["containers"][0]
    assert c["name"] == "kserve-container"
    # The one departure from the template: vLLM's documented `vllm serve MODEL`, not the
    # template's `python -m vllm.entrypoints.openai.api_server` (deprecated in vLLM 0.32).
    assert c["command"] == ["vllm", "serve", "/mnt/models"]
    assert not any(a.startswith("--model") for a in c["args"])
    assert c["ports"] == tmpl_rt["spec"]["containers"][0]["ports"]
    env = {e["name"]: e["value"] for e in c["env"]}
    for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",
              "VLLM_NO_USAGE_STATS", "DO_NOT_TRACK"):
        assert env[k] == "1"
    assert env["HF_HOME"].startswith("/tmp/") and env["HOME"].startswith("/tmp/")
    ca = "/etc/pki/tls/custom-certs/odh-ca-bundle.crt"
    assert env["SSL_CERT_FILE"] == env["REQUESTS_CA_BUNDLE"] == env["AWS_CA_BUNDLE"] == ca
    isvc = objs["InferenceService/tsuzumi-7b"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    model = isvc["spec"]["predictor"]["model"]
    assert model["storageUri"] == "pvc://tsuzumi-7b-store/tsuzumi-7b"
    args = model["args"]
    assert "--enable-lora" in args and "--max-lora-rank=64" in args and "--max-loras=2" in args
    mods = [json.loads(a) for a in args[args.index("--lora-modules") + 1:]]
    assert mods == [
        {"name": "legal", "path": "/mnt/models/adapters/legal", "base_model_name": "tsuzumi-7b"},
        {"name": "support", "path": "/mnt/models/adapters/support",
         "base_model_name": "tsuzumi-7b"},
    ]
    assert model["resources"]["limits"]["nvidia.com/gpu"] == "1"
    sec = objs["Secret/aws-connection-pantry"]
    assert sec["metadata"]["labels"]["opendatahub.io/dashboard"] == "true"
    assert sec["metadata"]["annotations"]["opendatahub.io/connection-type"] == "s3"
    assert "openshift.io/display-name" in sec["metadata"]["annotations"]
    assert "AWS_ACCESS_KEY_ID" not in sec["stringData"]
    pvc = objs["PersistentVolumeClaim/tsuzumi-7b-store"]
    # 13,476,839,424 weight bytes + small files, +30 % headroom -> 17 GiB
    assert pvc["spec"]["resources"]["requests"]["storage"] == "17Gi"
    cm = objs["ConfigMap/prai-trusted-ca-bundle"]
    assert cm["data"]["odh-ca-bundle.crt"].startswith("-----BEGIN CERTIFICATE-----")


def test_gateway_config_loads_with_the_gateway_schema(crd_dir: Path) -> None:
    from prai.config.kitchen import KitchenConfig

    cm = _objects(crd_dir)["ConfigMap/prai-gateway-config"]
    cfg = KitchenConfig.model_validate(yaml.safe_load(cm["data"]["kitchen.yaml"]))
    assert cfg.gateway is not None
    assert cfg.gateway.upstreams[0].base_urls == [
        "http://tsuzumi-7b-predictor.tenant1-projecta.svc.cluster.local"]
    assert sorted(cfg.gateway.upstreams[0].models) == ["legal", "support", "tsuzumi-7b"]
    assert [t.name for t in cfg.gateway.tenants] == ["tenant1", "tenant2"]


def test_include_secrets_reads_env_and_never_elsewhere(kitchen, crd_dir: Path) -> None:
    env = {"PANTRY_ACCESS_KEY_ID": "AKIAEXAMPLEKEY", "PANTRY_SECRET_ACCESS_KEY": "s3cr3t-value"}
    result = render(kitchen(), include_secrets=True, crd_dir=crd_dir, env=env)
    holders = [rel for rel, text in result.files.items() if "s3cr3t-value" in text]
    assert holders == ["tenant1-projecta/secret-aws-connection-pantry.yaml"]
    from prai.errors import ConfigError

    with pytest.raises(ConfigError, match="PANTRY_SECRET_ACCESS_KEY is not set"):
        render(kitchen(), include_secrets=True, crd_dir=crd_dir,
               env={"PANTRY_ACCESS_KEY_ID": "x"})


def test_reencrypt_route_uses_a_service_serving_certificate(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["cluster"]["gateway"]["tls"] = "reencrypt"

    objs = {o["kind"] + "/" + o["metadata"]["name"]: o
            for _, o in render(kitchen(edit=edit), crd_dir=crd_dir, env={}).objects}
    assert objs["Route/prai-gateway"]["spec"]["tls"]["termination"] == "reencrypt"
    svc = objs["Service/prai-gateway"]
    assert svc["metadata"]["annotations"][
        "service.beta.openshift.io/serving-cert-secret-name"] == "prai-gateway-tls"
    c = objs["Deployment/prai-gateway"]["spec"]["template"]["spec"]["containers"][0]
    assert c["args"][-4:] == ["--tls-cert", "/etc/prai/tls/tls.crt",
                              "--tls-key", "/etc/prai/tls/tls.key"]
    assert c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS"
    sm = objs["ServiceMonitor/prai-gateway"]["spec"]["endpoints"][0]
    assert sm["scheme"] == "https" and sm["tlsConfig"]["serverName"] == \
        "prai-gateway.prai-gateway.svc"


def test_network_policies_admit_only_gateway_and_monitoring(crd_dir: Path) -> None:
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={})
    pols = [o for _, o in result.objects if o["kind"] == "NetworkPolicy"
            and o["metadata"]["namespace"] == "tenant1-projecta"]
    deny = next(p for p in pols if p["metadata"]["name"] == "prai-default-deny-ingress")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    allow = next(p for p in pols if p["metadata"]["name"] != "prai-default-deny-ingress")
    sources = [(r["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
                r["ports"][0]["port"]) for r in allow["spec"]["ingress"]]
    assert sources == [("prai-gateway", 8080), ("openshift-user-workload-monitoring", 8080)]


def test_kong_entrance(crd_dir: Path) -> None:
    result = render(EXAMPLES / "kitchen-cluster.yaml", entrance="kong", crd_dir=crd_dir, env={})
    kong = yaml.safe_load(result.files["kong/kong.yaml"])
    svc = kong["services"][0]
    assert svc["url"] == "https://llm.apps.kitchen.internal" and svc["tls_verify"] is True
    assert svc["ca_certificates"] == [kong["ca_certificates"][0]["id"]]
    users = {c["username"]: c for c in kong["consumers"]}
    assert sorted(users) == ["tenant1.projecta", "tenant1.projectb", "tenant2.projecta"]
    rl = {u: next(p for p in c["plugins"] if p["name"] == "rate-limiting")["config"]["minute"]
          for u, c in users.items()}
    assert rl == {"tenant1.projecta": 120, "tenant1.projectb": 60, "tenant2.projecta": 600}
    key = users["tenant1.projecta"]["keyauth_credentials"][0]["key"]
    assert key == '${{ env "DECK_KEY_TENANT1_PROJECTA" }}'
    assert "DECK_PRAI_KEY_TENANT1_PROJECTA" in result.files["README.md"]
    assert "kong/kong.yaml" not in render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir,
                                          env={}).files


def test_dashboard_file_replaces_the_builtin_one(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["cluster"]["monitoring"]["dashboard"] = "dash.json"

    k = kitchen(edit=edit)
    (k.parent / "dash.json").write_text(json.dumps({"title": "ゲートウェイ", "panels": []}))
    result = render(k, crd_dir=crd_dir, env={})
    cm = next(o for _, o in result.objects if o["metadata"]["name"] == "prai-grafana-dashboard")
    assert json.loads(cm["data"]["prai-kitchen.json"])["title"] == "ゲートウェイ"
    (k.parent / "dash.json").write_text("[]")
    from prai.errors import ConfigError

    with pytest.raises(ConfigError, match="not a Grafana dashboard"):
        render(k, crd_dir=crd_dir, env={})


def test_builtin_dashboard_is_valid_grafana_json(crd_dir: Path) -> None:
    result = render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={})
    cm = next(o for _, o in result.objects if o["metadata"]["name"] == "prai-grafana-dashboard")
    dash = json.loads(cm["data"]["prai-kitchen.json"])
    assert dash["uid"] == "prai-kitchen" and dash["schemaVersion"] >= 36
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in ("prai_gateway_requests_total", "prai_gateway_time_to_first_token_seconds_bucket",
                   "vllm:num_requests_waiting"):
        assert metric in exprs
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_gateway_probes_use_its_liveness_and_readiness_paths(crd_dir: Path) -> None:
    """Readiness is the gateway's upstream-aware probe (503 while no upstream answers: the pod
    leaves the Service), liveness the plain one (a restart cures no upstream outage)."""
    from prai.gateway.app import LIVENESS_PATHS, READINESS_PATHS

    result = render(EXAMPLES / "kitchen-cluster.yaml", entrance="prai", crd_dir=crd_dir, env={})
    dep = yaml.safe_load(result.files["prai-gateway/deployment-prai-gateway.yaml"])
    (container,) = dep["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] in READINESS_PATHS
    assert container["livenessProbe"]["httpGet"]["path"] in LIVENESS_PATHS
    assert container["readinessProbe"]["httpGet"]["path"] != container["livenessProbe"]["httpGet"]["path"]
