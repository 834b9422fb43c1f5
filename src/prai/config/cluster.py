"""The ``cluster:`` section of kitchen.yaml: how the kitchen runs on OpenShift AI / KServe.

Read by ``prai render`` (manifests) and ``prai doctor`` (GPU fit, checklist). The format
is described in ``docs/deploy.md``; an annotated example is
``examples/kitchen-cluster.yaml``. Relative paths (``ca_bundle``, ``local_dir``) are
resolved against the directory of kitchen.yaml by the renderer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from prai.config._base import StrictModel

# Kubernetes object names (RFC 1123 label); InferenceService names must also be valid
# Service names, so the stricter label form is used everywhere.
_DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
_DIGEST = r"^sha256:[0-9a-f]{64}$"
_REPO = r"^[a-z0-9.-]+(:[0-9]+)?(/[a-z0-9._-]+)+$"
# vLLM's accepted --max-lora-rank values (vllm/config/lora.py, MaxLoRARanks).
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class MirroredImage(StrictModel):
    """An image brought in by mirroring: same digest on both sides.

    Attributes:
        source: repository on the connected side, e.g. ``quay.io/modh/vllm`` (no tag).
        mirror: repository in the internal registry, e.g. ``registry.kitchen.internal/ai/vllm``.
        digest: ``sha256:<64 hex>``, the manifest digest (identical after mirroring).
    """

    source: str = Field(pattern=_REPO)
    mirror: str = Field(pattern=_REPO)
    digest: str = Field(pattern=_DIGEST)

    @property
    def ref(self) -> str:
        """The internal reference pods use: ``mirror@digest``."""
        return f"{self.mirror}@{self.digest}"

    @property
    def source_ref(self) -> str:
        """The connected-side reference oc-mirror copies: ``source@digest``."""
        return f"{self.source}@{self.digest}"


class ImagesConfig(StrictModel):
    """The images the kitchen runs: the vLLM runtime and PrAI itself (the gateway)."""

    vllm: MirroredImage
    prai: MirroredImage


class PvcStorage(StrictModel):
    """The model on a PersistentVolumeClaim (``storageUri: pvc://NAME/PATH``).

    Attributes:
        name: PVC name (rendered in the model's namespace).
        path: directory inside the PVC mounted at /mnt/models (the brought-in model root).
        size: e.g. ``"40Gi"``; default: the model and adapter bytes plus ``headroom``.
        headroom: fraction added to the measured size (0.3 = 30 %, seed §7 Tips).
        storage_class: StorageClass name; default: the cluster's default class.
        access_mode: ReadWriteOnce (one node) or ReadWriteMany (replicas on several nodes).
    """

    name: str = Field(pattern=_DNS_LABEL)
    path: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
    size: str | None = Field(default=None, pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$")
    headroom: float = Field(default=0.3, ge=0, le=10)
    storage_class: str | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany"] = "ReadWriteOnce"

    @field_validator("path")
    @classmethod
    def _no_dotdot(cls, v: str) -> str:
        if ".." in v.split("/"):
            raise ValueError("must not contain '..'")
        return v


class ModelStorage(StrictModel):
    """Where the model lives in the cluster: a PVC, or an OCI modelcar (exactly one).

    ``oci`` is the modelcar image (mirrored like the others; listed in the oc-mirror
    ImageSetConfiguration) and becomes ``storageUri: oci://MIRROR@DIGEST``.
    """

    pvc: PvcStorage | None = None
    oci: MirroredImage | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelStorage:
        if (self.pvc is None) == (self.oci is None):
            raise ValueError("give exactly one of pvc: or oci:")
        return self


class AdapterDeploy(StrictModel):
    """A LoRA adapter served beside the base model (seed §13).

    Attributes:
        name: the adapter's name in requests (``model`` field) and ``--lora-modules``.
        path: directory relative to the model storage root (mounted at /mnt/models).
        local_dir: the brought-in copy (at least adapter_config.json) read for its rank,
            base model and target modules; default: the adapter of the same name in the
            model's ``bundle`` manifest.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
    path: str = Field(pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")
    local_dir: Path | None = None


class Toleration(StrictModel):
    """A Kubernetes toleration (core/v1 Toleration)."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class GpuConfig(StrictModel):
    """GPU request and placement of the predictor pod.

    Attributes:
        resource: extended resource name (``nvidia.com/gpu``; ``amd.com/gpu``).
        count: GPUs per pod; equals ``tensor_parallel_size`` unless set otherwise.
        memory_gib: memory of ONE GPU in GiB (80 for H100 80GB), for the GPU fit check.
        tolerations: tolerations for tainted GPU nodes (default: tolerate the taint named
            like ``resource``, effect NoSchedule).
        node_selector: e.g. ``{nvidia.com/gpu.product: NVIDIA-H100-80GB-HBM3}`` (seed appendix).
    """

    resource: str = Field(default="nvidia.com/gpu", pattern=r"^[a-z0-9.-]+/[a-z0-9.-]+$")
    count: int | None = Field(default=None, ge=1, le=16)
    memory_gib: float = Field(gt=0, le=1024)
    tolerations: list[Toleration] = Field(default_factory=list)
    node_selector: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_toleration(self) -> GpuConfig:
        # GPU nodes are usually tainted with the resource name (NVIDIA GPU Operator's default).
        if "tolerations" not in self.model_fields_set:
            self.tolerations = [Toleration(key=self.resource, operator="Exists",
                                           effect="NoSchedule")]
        return self


class VllmConfig(StrictModel):
    """vLLM engine settings rendered as arguments of the InferenceService.

    Attributes:
        max_model_len: tokens per sequence (prompt + output); checked against GPU memory.
        max_num_seqs: sequences batched at once; the KV cache is sized for all of them at
            ``max_model_len`` (rendered as ``--max-num-seqs``).
        gpu_memory_utilization: fraction of each GPU's memory vLLM may use (0–1].
        tensor_parallel_size: GPUs one model is split across.
        dtype: weight dtype (``auto`` = config.json's ``torch_dtype``).
        kv_cache_dtype: ``auto`` (= dtype) or ``fp8``.
        max_loras: adapters resident at once; default: the number of adapters.
        max_lora_rank: default: the smallest vLLM value >= the largest adapter rank.
        extra_args: further vLLM arguments, appended verbatim (checked for external hosts
            and secrets).
    """

    max_model_len: int = Field(default=4096, ge=16)
    max_num_seqs: int = Field(default=16, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    tensor_parallel_size: int = Field(default=1, ge=1, le=16)
    dtype: Literal["auto", "float16", "bfloat16", "float32"] = "auto"
    kv_cache_dtype: Literal["auto", "fp8"] = "auto"
    max_loras: int | None = Field(default=None, ge=1)
    max_lora_rank: int | None = None
    extra_args: list[str] = Field(default_factory=list)

    @field_validator("max_lora_rank")
    @classmethod
    def _rank(cls, v: int | None) -> int | None:
        if v is not None and v not in VLLM_LORA_RANKS:
            raise ValueError(f"vLLM accepts only {', '.join(map(str, VLLM_LORA_RANKS))}")
        return v


class ModelDeploy(StrictModel):
    """One served base model (an InferenceService) and its adapters.

    Attributes:
        name: InferenceService name and ``--served-model-name``.
        namespace: the tenant/project namespace it runs in (one of ``namespaces``).
        local_dir: the brought-in model directory (at least config.json; the safetensors
            index or the weight files size the PVC).
        bundle: a ``prai bundle`` directory: its manifest sizes the PVC and gives the
            adapters' rank and base model; config.json is read from it (unless
            ``local_dir`` is given). One of ``local_dir`` / ``bundle`` is required.
        model_subdir: directory of the model below the storage root ("" = the root).
        aliases: other names of the same base model (hub ids, directory names) accepted
            in adapters' ``base_model_name_or_path``.
        replicas: predictor replicas (min = max; scaling GPUs is a decision, not a reflex).
        cpu / memory: container requests (limits equal requests for memory).
    """

    name: str = Field(pattern=_DNS_LABEL)
    namespace: str = Field(pattern=_DNS_LABEL)
    local_dir: Path | None = None
    bundle: Path | None = None
    model_subdir: str = Field(default="", pattern=r"^([A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*)?$")
    aliases: list[str] = Field(default_factory=list)
    storage: ModelStorage
    adapters: list[AdapterDeploy] = Field(default_factory=list)
    gpu: GpuConfig
    vllm: VllmConfig = Field(default_factory=VllmConfig)
    replicas: int = Field(default=1, ge=1, le=64)
    cpu: str = Field(default="4", pattern=r"^[0-9]+(\.[0-9]+)?m?$")
    memory: str = Field(default="32Gi", pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$")

    @model_validator(mode="after")
    def _unique_adapters(self) -> ModelDeploy:
        if self.local_dir is None and self.bundle is None:
            raise ValueError("give local_dir (the model directory) or bundle (a prai bundle)")
        orphans = [a.name for a in self.adapters if a.local_dir is None]
        if orphans and self.bundle is None:
            raise ValueError(f"adapters {', '.join(orphans)}: give local_dir, or a bundle "
                             "that holds them")
        names = [a.name for a in self.adapters]
        dupes = sorted({n for n in names if names.count(n) > 1} | ({self.name} & set(names)))
        if dupes:
            raise ValueError(f"adapter names must be unique and differ from the model: "
                             f"{', '.join(dupes)}")
        return self


class NamespaceConfig(StrictModel):
    """A namespace per tenant/project (seed appendix: "Namespace分離")."""

    name: str = Field(pattern=_DNS_LABEL)
    tenant: str = Field(pattern=_DNS_LABEL)
    project: str = Field(pattern=_DNS_LABEL)
    display_name: str | None = None


class S3Credentials(StrictModel):
    """Names of the environment variables that hold the S3 keys (never the keys).

    The values are read only when ``prai render --include-secrets`` asks for them.
    """

    access_key_id_env: str = Field(default="AWS_ACCESS_KEY_ID", pattern=r"^[A-Z_][A-Z0-9_]*$")
    secret_access_key_env: str = Field(
        default="AWS_SECRET_ACCESS_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$"
    )


class DataConnection(StrictModel):
    """An S3 (MinIO) Data Connection, rendered into every model namespace (seed §5).

    Attributes:
        name: connection name; the Secret is ``aws-connection-<name>``.
        endpoint: ``https://minio.kitchen.internal:9000`` (https: the CA bundle is mounted).
        bucket / region: as OpenShift AI's form asks.
    """

    name: str = Field(pattern=_DNS_LABEL)
    endpoint: str = Field(pattern=r"^https?://[^/\s]+/?$")
    bucket: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    region: str = "us-east-1"
    credentials: S3Credentials = Field(default_factory=S3Credentials)


class GatewayDeploy(StrictModel):
    """The PrAI gateway in the cluster and its Route (seed §10: one TLS mode for all).

    Attributes:
        namespace: where the gateway runs.
        host: the Route host, e.g. ``llm.apps.kitchen.internal``.
        tls: ``edge`` (router terminates) or ``reencrypt`` (router → gateway TLS with a
            service-serving certificate).
        replicas: gateway pods (more than one needs a PostgreSQL ``gateway.storage.url``).
        data_size: PVC for the SQLite key store and audit journal.
        entrance_requests_per_minute: Kong's per-consumer limit (``--entrance kong``) for
            projects without ``gateway.tenants[].projects[].limits.requests_per_minute``.
    """

    namespace: str = Field(default="prai-gateway", pattern=_DNS_LABEL)
    host: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    tls: Literal["edge", "reencrypt"] = "edge"
    replicas: int = Field(default=1, ge=1, le=64)
    data_size: str = Field(default="5Gi", pattern=r"^[1-9][0-9]*(Mi|Gi|Ti)$")
    storage_class: str | None = None
    entrance_requests_per_minute: int = Field(default=600, ge=1)


class MonitoringConfig(StrictModel):
    """Alert thresholds (PrometheusRule) and where Prometheus runs (NetworkPolicy).

    Attributes:
        namespace: the namespace Prometheus scrapes from.
        error_rate: fraction of 5xx answers over 5 minutes that fires an alert.
        ttft_p95_s: seconds; p95 time to first token over 5 minutes.
        queue_depth: requests waiting in vLLM's queue, sustained for 5 minutes.
        dashboard: a Grafana dashboard JSON file to ship instead of PrAI's built-in one
            (e.g. the gateway's ``docs/grafana/prai-gateway.json``; relative to kitchen.yaml).
    """

    namespace: str = Field(default="openshift-user-workload-monitoring", pattern=_DNS_LABEL)
    error_rate: float = Field(default=0.05, gt=0, le=1)
    ttft_p95_s: float = Field(default=2.0, gt=0)
    queue_depth: int = Field(default=10, ge=1)
    dashboard: Path | None = None


class ClusterConfig(StrictModel):
    """``cluster:`` in kitchen.yaml.

    Attributes:
        kubernetes_version: core schema version to validate against (e.g. "1.31").
        registry: the internal registry host (``host[:port]``); every image must be there.
        internal_domains: DNS suffixes inside the closed network (the registry's, S3's and
            the Route's domains are added automatically).
        ca_bundle: PEM file of the internal CA (relative to kitchen.yaml).
        ingress_namespace_label: label selecting the router's namespace for NetworkPolicies.
    """

    kubernetes_version: str = Field(default="1.31", pattern=r"^1\.[0-9]{2}$")
    registry: str = Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?$")
    internal_domains: list[str] = Field(default_factory=list)
    images: ImagesConfig
    ca_bundle: Path | None = None
    namespaces: list[NamespaceConfig] = Field(min_length=1)
    data_connection: DataConnection | None = None
    models: list[ModelDeploy] = Field(min_length=1)
    gateway: GatewayDeploy
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)

    @model_validator(mode="after")
    def _references(self) -> ClusterConfig:
        ns_names = [n.name for n in self.namespaces]
        errs = []
        for what, names in (("namespaces", ns_names), ("models", [m.name for m in self.models])):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                errs.append(f"{what}: duplicate names: {', '.join(dupes)}")
        for m in self.models:
            if m.namespace not in ns_names:
                errs.append(f"models[{m.name}].namespace {m.namespace!r} is not in namespaces")
        if self.gateway.namespace in ns_names:
            errs.append("gateway.namespace must differ from the model namespaces")
        if errs:
            raise ValueError("; ".join(errs))
        return self

    @field_validator("internal_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            d = d.strip().lstrip(".").lower()
            if not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", d):
                raise ValueError(f"{d!r} is not a DNS suffix")
            out.append(d)
        return out


__all__ = [
    "VLLM_LORA_RANKS",
    "AdapterDeploy",
    "ClusterConfig",
    "DataConnection",
    "GatewayDeploy",
    "GpuConfig",
    "ImagesConfig",
    "MirroredImage",
    "ModelDeploy",
    "ModelStorage",
    "MonitoringConfig",
    "NamespaceConfig",
    "PvcStorage",
    "S3Credentials",
    "Toleration",
    "VllmConfig",
]
