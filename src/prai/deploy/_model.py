"""Objects of a model namespace: Namespace, PVC, Data Connection, CA, runtime, ISVC, policy.

Shapes follow OpenShift AI: the ServingRuntime mirrors ``vllm-cuda-runtime-template``
(../shared/schemas/odh/) but starts vLLM as ``vllm serve /mnt/models/...`` (as KServe's
LLMInferenceService configs do) instead of the template's deprecated ``python -m
vllm.entrypoints.openai.api_server``, the Data Connection Secret is what the dashboard creates
(``aws-connection-NAME`` with AWS_* keys), the CA ConfigMap follows
``odh-trusted-ca-bundle`` (key ``odh-ca-bundle.crt``; the label lets the Cluster Network
Operator add the cluster-wide bundle as ``ca-bundle.crt``).
"""

from __future__ import annotations

import json

from prai.config.cluster import NamespaceConfig
from prai.deploy._common import (
    CA_CONFIGMAP,
    CA_DIR,
    CA_KEY,
    GATEWAY_APP,
    MODEL_ROOT,
    VLLM_PORT,
    ModelPlan,
    Obj,
    Plan,
    labels,
    meta,
    quantity_gi,
)
from prai.deploy.promoted import ANNOTATION as PROMOTED_ANNOTATION

RUNTIME_TEMPLATE = "vllm-cuda-runtime-template"
# The runtime container's entry point: the `vllm` console script's `serve` subcommand
# (vLLM 0.32 documents it; the model directory follows as its positional argument).
VLLM_COMMAND = ("vllm", "serve")
OFFLINE_ENV = (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("HF_DATASETS_OFFLINE", "1"),
    ("HF_HOME", "/tmp/hf_home"),  # writable: OpenShift runs pods with a random UID, HOME=/
    ("HOME", "/tmp/home"),
    ("XDG_CACHE_HOME", "/tmp/cache"),
    ("VLLM_NO_USAGE_STATS", "1"),
    ("DO_NOT_TRACK", "1"),
)


def namespace(ns: NamespaceConfig) -> Obj:
    """A tenant/project Namespace, shown in the OpenShift AI dashboard."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": meta(
            ns.name, None, "tenant-project",
            labels_extra={
                "opendatahub.io/dashboard": "true",
                "modelmesh-enabled": "false",
                "prai.io/tenant": ns.tenant,
                "prai.io/project": ns.project,
            },
            annotations={
                "openshift.io/display-name": ns.display_name or f"{ns.tenant} / {ns.project}",
            },
        ),
    }


def pvc(mp: ModelPlan) -> Obj | None:
    """The model PVC, sized from the model + adapters + headroom unless given."""
    st = mp.cfg.storage.pvc
    if st is None:
        return None
    spec: Obj = {
        "accessModes": [st.access_mode],
        "resources": {"requests": {"storage": st.size or quantity_gi(mp.pvc_bytes)}},
        "volumeMode": "Filesystem",
    }
    if st.storage_class:
        spec["storageClassName"] = st.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(
            st.name, mp.cfg.namespace, "model-storage",
            labels_extra={"opendatahub.io/dashboard": "true"},
            annotations={
                "openshift.io/display-name": f"{mp.cfg.name} model storage",
                "prai.io/measured-bytes": str(mp.pvc_bytes),
            },
        ),
        "spec": spec,
    }


def data_connection(plan: Plan, ns: str) -> Obj | None:
    """The S3 Data Connection Secret as OpenShift AI's dashboard creates it.

    The access keys are included only with ``include_secrets`` (values read from the
    environment variables named in the config); otherwise the Secret carries the
    non-secret keys and the operator adds the two keys (docs/deploy.md).
    """
    dc = plan.cluster.data_connection
    if dc is None:
        return None
    data = {
        "AWS_S3_ENDPOINT": dc.endpoint.rstrip("/"),
        "AWS_S3_BUCKET": dc.bucket,
        "AWS_DEFAULT_REGION": dc.region,
    }
    if plan.include_secrets:
        data["AWS_ACCESS_KEY_ID"] = plan.secret_values[dc.credentials.access_key_id_env]
        data["AWS_SECRET_ACCESS_KEY"] = plan.secret_values[dc.credentials.secret_access_key_env]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(
            f"aws-connection-{dc.name}", ns, "data-connection",
            labels_extra={"opendatahub.io/dashboard": "true", "opendatahub.io/managed": "true"},
            annotations={
                "opendatahub.io/connection-type": "s3",
                "opendatahub.io/connection-type-ref": "s3",
                "openshift.io/display-name": dc.name,
            },
        ),
        "type": "Opaque",
        "stringData": dict(sorted(data.items())),
    }


def ca_configmap(plan: Plan, ns: str) -> Obj | None:
    """The internal CA as a ConfigMap following the odh-trusted-ca-bundle convention."""
    if plan.ca_pem is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(
            CA_CONFIGMAP, ns, "trusted-ca",
            labels_extra={"config.openshift.io/inject-trusted-cabundle": "true"},
        ),
        "data": {CA_KEY: plan.ca_pem},
    }


def runtime_env(plan: Plan) -> list[Obj]:
    """The offline environment (seed §8) and, with a CA, the CA variables (seed §10)."""
    env = [{"name": k, "value": v} for k, v in OFFLINE_ENV]
    if plan.ca_pem is not None:
        ca = f"{CA_DIR}/{CA_KEY}"
        env += [{"name": k, "value": ca} for k in
                ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "AWS_CA_BUNDLE", "CURL_CA_BUNDLE")]
    return env


def serving_runtime(plan: Plan, mp: ModelPlan) -> Obj:
    """A vLLM ServingRuntime in the shape of OpenShift AI's vllm-cuda-runtime-template.

    The container runs ``vllm serve MODEL_DIR --port=8080``; the InferenceService's
    :func:`vllm_args` are appended by KServe.
    """
    m = mp.cfg
    model_path = f"{MODEL_ROOT}/{m.model_subdir}".rstrip("/")
    volumes: list[Obj] = [
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[Obj] = [
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    if plan.ca_pem is not None:
        volumes.append({"name": "trusted-ca", "configMap": {
            "name": CA_CONFIGMAP, "items": [{"key": CA_KEY, "path": CA_KEY}]}})
        mounts.append({"name": "trusted-ca", "mountPath": CA_DIR, "readOnly": True})
    container: Obj = {
        "name": "kserve-container",
        "image": plan.cluster.images.vllm.ref,
        # `vllm serve MODEL` (vLLM's documented entry point, as KServe's own vLLM configs
        # start it); `python -m vllm.entrypoints.openai.api_server`, which OpenShift AI's
        # template still uses, prints a deprecation warning since vLLM 0.32.
        "command": [*VLLM_COMMAND, model_path],
        "args": [f"--port={VLLM_PORT}"],
        "env": runtime_env(plan) + (
            # Rendered from the registry: `prai model promote` loads new versions at runtime
            # (/v1/load_lora_adapter); only the gateway namespace reaches the predictor.
            [{"name": "VLLM_ALLOW_RUNTIME_LORA_UPDATING", "value": "True"}] if mp.promoted is not None else []
        ),
        "ports": [{"containerPort": VLLM_PORT, "protocol": "TCP"}],
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": meta(
            f"{m.name}-vllm", m.namespace, "serving-runtime",
            labels_extra={"opendatahub.io/dashboard": "true"},
            annotations={
                "openshift.io/display-name": f"vLLM (PrAI, offline) for {m.name}",
                "opendatahub.io/recommended-accelerators": json.dumps([m.gpu.resource]),
                "opendatahub.io/template-name": RUNTIME_TEMPLATE,
                "opendatahub.io/template-display-name": "vLLM NVIDIA GPU ServingRuntime for KServe",
                "opendatahub.io/apiProtocol": "REST",
                "opendatahub.io/serving-runtime-scope": "project",
            },
        ),
        "spec": {
            "annotations": {
                "opendatahub.io/kserve-runtime": "vllm",
                "prometheus.io/path": "/metrics",
                "prometheus.io/port": str(VLLM_PORT),
            },
            "multiModel": False,
            "supportedModelFormats": [{"autoSelect": True, "name": "vLLM"}],
            "containers": [container],
            "volumes": volumes,
        },
    }


def storage_uri(mp: ModelPlan) -> str:
    """``pvc://NAME/PATH`` or ``oci://MIRROR@DIGEST`` (KServe storage URI forms)."""
    st = mp.cfg.storage
    if st.pvc is not None:
        return f"pvc://{st.pvc.name}/{st.pvc.path}"
    assert st.oci is not None
    return f"oci://{st.oci.ref}"


def vllm_args(mp: ModelPlan) -> list[str]:
    """Arguments the InferenceService adds to the runtime's (served name, limits, LoRA)."""
    m, v = mp.cfg, mp.cfg.vllm
    args = [
        f"--served-model-name={m.name}",
        f"--max-model-len={v.max_model_len}",
        f"--max-num-seqs={v.max_num_seqs}",
        f"--gpu-memory-utilization={v.gpu_memory_utilization}",
        f"--tensor-parallel-size={v.tensor_parallel_size}",
    ]
    if v.dtype != "auto":
        args.append(f"--dtype={v.dtype}")
    if v.kv_cache_dtype != "auto":
        args.append(f"--kv-cache-dtype={v.kv_cache_dtype}")
    if mp.has_adapters:
        args += ["--enable-lora", f"--max-loras={mp.max_loras}",
                 f"--max-lora-rank={mp.max_lora_rank}", "--lora-modules"]
        for a, _facts in mp.adapters:
            args.append(json.dumps(
                {"name": a.name, "path": f"{MODEL_ROOT}/{a.path}", "base_model_name": m.name},
                separators=(",", ":"),
            ))
        # Promoted versions (prai render --registry): the served names the gateway routes to.
        for pv in mp.registry_adapters:
            args.append(json.dumps(
                {"name": pv.served_name, "path": pv.path, "base_model_name": m.name},
                separators=(",", ":"),
            ))
    return args + list(v.extra_args)


def inference_service(plan: Plan, mp: ModelPlan) -> Obj:
    """The InferenceService (RawDeployment) serving one model and its adapters.

    With ``--registry`` it carries the ``prai.io/promoted`` annotation (the promoted state
    rendered, canonical JSON; see :mod:`prai.deploy.promoted`).
    """
    m = mp.cfg
    res = {"cpu": m.cpu, "memory": m.memory, m.gpu.resource: str(mp.gpu_count)}
    predictor: Obj = {
        "minReplicas": m.replicas,
        "maxReplicas": m.replicas,
        "model": {
            "modelFormat": {"name": "vLLM"},
            "runtime": f"{m.name}-vllm",
            "storageUri": storage_uri(mp),
            "args": vllm_args(mp),
            "resources": {"requests": dict(sorted(res.items())),
                          "limits": dict(sorted({"memory": m.memory,
                                                 m.gpu.resource: str(mp.gpu_count)}.items()))},
        },
        "tolerations": [t.model_dump(exclude_none=True) for t in m.gpu.tolerations],
    }
    if m.gpu.node_selector:
        predictor["nodeSelector"] = dict(sorted(m.gpu.node_selector.items()))
    annotations = {
        "openshift.io/display-name": m.name,
        "serving.kserve.io/deploymentMode": "RawDeployment",
        "security.opendatahub.io/enable-auth": "false",
        "prometheus.io/path": "/metrics",
        "prometheus.io/port": str(VLLM_PORT),
    }
    if mp.promoted is not None:  # rendered with --registry: the state it rendered
        annotations[PROMOTED_ANNOTATION] = mp.promoted
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta(
            m.name, m.namespace, "inference-service",
            labels_extra={"opendatahub.io/dashboard": "true",
                          "networking.kserve.io/visibility": "cluster-local"},
            annotations=annotations,
        ),
        "spec": {"predictor": predictor},
    }


def network_policies(plan: Plan, ns: str) -> list[Obj]:
    """Deny all ingress to the namespace except vLLM's port from the gateway and monitoring."""
    c = plan.cluster

    def ns_sel(name: str) -> Obj:
        return {"matchLabels": {"kubernetes.io/metadata.name": name}}

    deny = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta("prai-default-deny-ingress", ns, "network-policy"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }
    allow = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta("prai-allow-gateway-and-monitoring", ns, "network-policy"),
        "spec": {
            "podSelector": {"matchExpressions": [
                {"key": "serving.kserve.io/inferenceservice", "operator": "Exists"}]},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [{
                        "namespaceSelector": ns_sel(c.gateway.namespace),
                        "podSelector": {"matchLabels": {"app.kubernetes.io/name": GATEWAY_APP}},
                    }],
                    "ports": [{"port": VLLM_PORT, "protocol": "TCP"}],
                },
                {
                    "from": [{"namespaceSelector": ns_sel(c.monitoring.namespace)}],
                    "ports": [{"port": VLLM_PORT, "protocol": "TCP"}],
                },
            ],
        },
    }
    return [deny, allow]


def model_namespace_objects(plan: Plan) -> list[Obj]:
    """Every object of every model namespace, in a stable order."""
    objs: list[Obj] = []
    for ns in plan.cluster.namespaces:
        objs.append(namespace(ns))
        models = [mp for mp in plan.models if mp.cfg.namespace == ns.name]
        if not models:
            continue
        for o in (data_connection(plan, ns.name), ca_configmap(plan, ns.name)):
            if o is not None:
                objs.append(o)
        objs += network_policies(plan, ns.name)
        for mp in models:
            p = pvc(mp)
            if p is not None:
                objs.append(p)
            objs += [serving_runtime(plan, mp), inference_service(plan, mp)]
    return objs


__all__ = ["OFFLINE_ENV", "labels", "model_namespace_objects", "storage_uri", "vllm_args"]
