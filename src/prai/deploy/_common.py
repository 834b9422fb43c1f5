"""Shared pieces of the renderer: the plan (config + facts), labels, helpers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from prai.config.cluster import VLLM_LORA_RANKS, ClusterConfig, ModelDeploy
from prai.deploy.gpufit import GpuFit
from prai.modelfiles.adapter import AdapterFacts
from prai.modelfiles.model_dir import ModelFacts

Obj = dict[str, Any]

MODEL_ROOT = "/mnt/models"
CA_DIR = "/etc/pki/tls/custom-certs"
CA_CONFIGMAP = "prai-trusted-ca-bundle"
CA_KEY = "odh-ca-bundle.crt"  # the key OpenShift AI uses for custom CAs in odh-trusted-ca-bundle
VLLM_PORT = 8080
GATEWAY_PORT = 8080
GATEWAY_APP = "prai-gateway"
MANAGED = {"app.kubernetes.io/managed-by": "prai", "app.kubernetes.io/part-of": "prai-kitchen"}


Role = Literal["current", "canary"]


@dataclass(frozen=True)
class PromotedVersion:
    """One adapter version the gateway routes to, as the engine must serve it.

    Attributes:
        alias: what clients call (``kansai``).
        role: ``current`` or ``canary``.
        version: the version label (``v2``).
        served_name: ``ALIAS@VERSION``, the engine-side name (``--lora-modules`` name).
        base: the base model's served name the version runs on.
        path: the adapter directory as the engine sees it.
        rank: LoRA rank from the bundle manifest (None when the bundle did not record it).
        digest: root digest of the bundle it came from (64 hex).
    """

    alias: str
    role: Role
    version: str
    served_name: str
    base: str
    path: str
    rank: int | None
    digest: str


@dataclass
class ModelPlan:
    """One model with its facts and the derived vLLM limits.

    Attributes:
        adapters: the kitchen's adapters (AdapterDeploy, facts).
        registry_adapters: with ``--registry``: the promoted versions (current and canary)
            whose base is this model, served as ``ALIAS@VERSION``.
        promoted: with ``--registry``: the ``prai.io/promoted`` annotation text (canonical
            JSON); None without a registry (no annotation is rendered).
    """

    cfg: ModelDeploy
    facts: ModelFacts
    adapters: list[tuple[Any, AdapterFacts]]  # (AdapterDeploy, facts)
    max_lora_rank: int
    max_loras: int
    gpu_count: int
    fit: GpuFit | None = None
    pvc_bytes: int = 0
    registry_adapters: list[PromotedVersion] = field(default_factory=list)
    promoted: str | None = None

    @property
    def has_adapters(self) -> bool:
        """Whether vLLM runs with LoRA (kitchen or registry adapters)."""
        return bool(self.adapters or self.registry_adapters)


@dataclass
class Plan:
    """Everything the object builders read: the cluster config, facts, CA PEM text."""

    cluster: ClusterConfig
    base_dir: Path
    models: list[ModelPlan]
    ca_pem: str | None
    gateway_raw: dict[str, Any] | None
    include_secrets: bool = False
    secret_values: dict[str, str] = field(default_factory=dict)  # env name -> value
    dashboard: dict[str, Any] | None = None  # monitoring.dashboard, parsed

    def internal_domains(self) -> list[str]:
        """DNS suffixes considered inside the closed network (sorted, deduplicated)."""
        c = self.cluster
        doms = set(c.internal_domains) | {"svc", "svc.cluster.local", "cluster.local", "localhost"}
        hosts = [c.registry.split(":")[0], c.gateway.host]
        if c.data_connection:
            hosts.append(urlparse(c.data_connection.endpoint).hostname or "")
        for h in hosts:
            parts = h.split(".")
            doms.add(".".join(parts[1:]) if len(parts) > 2 else h)
        return sorted(d for d in doms if d)


def labels(name: str, component: str, **extra: str) -> dict[str, str]:
    """Recommended Kubernetes labels plus PrAI's managed-by/part-of."""
    out = {"app.kubernetes.io/name": name, "app.kubernetes.io/component": component, **MANAGED}
    out.update(extra)
    return dict(sorted(out.items()))


def meta(name: str, namespace: str | None, component: str, *, labels_extra: dict[str, str]
         | None = None, annotations: dict[str, str] | None = None) -> Obj:
    """ObjectMeta with PrAI's labels (namespace omitted for cluster-scoped objects)."""
    m: Obj = {"name": name}
    if namespace:
        m["namespace"] = namespace
    m["labels"] = labels(name, component, **(labels_extra or {}))
    if annotations:
        m["annotations"] = dict(sorted(annotations.items()))
    return m


def lora_rank_for(max_rank: int) -> int:
    """The smallest vLLM-accepted --max-lora-rank >= max_rank (512 when above all)."""
    for r in VLLM_LORA_RANKS:
        if r >= max_rank:
            return r
    return VLLM_LORA_RANKS[-1]


def quantity_gi(n_bytes: int) -> str:
    """Bytes rounded up to whole GiB as a Kubernetes quantity (at least 1Gi)."""
    return f"{max(1, math.ceil(n_bytes / 1024**3))}Gi"


def parse_quantity(q: str) -> int:
    """Bytes of a quantity with a Mi/Gi/Ti suffix (the forms the config accepts)."""
    units = {"Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
    return int(q[:-2]) * units[q[-2:]]
