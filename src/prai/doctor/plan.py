"""What to check: a :class:`DoctorPlan` built from kitchen.yaml and the command line.

Sources: ``cluster:`` (Data Connection, images, registry, CA bundle, models, adapters, GPU,
vLLM limits), ``gateway:`` (upstreams with their CA bundles and embedded engines),
``doctor:`` (S3 prefix, model directories as seen here, endpoint, serving UID), then the
options, which override or add (``--model``, ``--adapter``, ``--ca``, ``--endpoint``).
Relative paths in kitchen.yaml resolve against its directory, as ``prai render`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai.errors import UsageError


@dataclass
class S3Target:
    """The Data Connection (seed §5). Keys come from the environment, never the config."""

    endpoint: str
    bucket: str
    region: str
    access_key_env: str
    secret_key_env: str
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    prefix: str | None = None


@dataclass
class ModelTarget:
    """One base model and its adapters, as seen where doctor runs.

    Attributes:
        name: served model name (``--served-model-name``).
        dir: the model directory (e.g. /mnt/models).
        bundle: a ``prai bundle`` whose manifest lists the expected files.
        adapters: adapter name -> directory.
        max_lora_rank: the engine's ``--max-lora-rank`` when set; None = derived.
        aliases: other names of the base model accepted in adapters' base_model_name_or_path.
        gpu_memory_bytes: memory of one GPU (bytes), for the GPU fit; None = no GPU check.
        vllm: max_model_len, max_num_seqs, gpu_memory_utilization, tensor_parallel_size,
            dtype, kv_cache_dtype, max_loras (a plain dict).
        headroom: fraction of the model size that must stay free (seed §7 Tips).
    """

    name: str
    dir: Path
    bundle: Path | None = None
    adapters: dict[str, Path] = field(default_factory=dict)
    max_lora_rank: int | None = None
    aliases: list[str] = field(default_factory=list)
    gpu_memory_bytes: int | None = None
    vllm: dict[str, Any] = field(default_factory=dict)
    headroom: float = 0.3
    engine_args: list[str] = field(default_factory=list)
    source: str = "cli"  # cluster (KServe), serve (prai up / prai serve), cli (--model)


@dataclass
class EndpointTarget:
    """One OpenAI-compatible endpoint to taste.

    Attributes:
        label: prefix of the check names (``upstream NAME``; empty for ``--endpoint``).
        url: base URL (``/v1`` is stripped).
        ca: CA file (PEM) for https; None = the system trust store.
        api_key: sent as ``Authorization: Bearer`` (never printed).
        expected: names /v1/models must list (empty: whatever it lists).
    """

    label: str
    url: str
    ca: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    expected: list[str] = field(default_factory=list)


@dataclass
class DoctorPlan:
    """Everything the checks read. Built by :func:`build_plan`."""

    kitchen: Path | None = None
    s3: S3Target | None = None
    ca_files: list[tuple[str, Path]] = field(default_factory=list)
    tls_endpoints: list[tuple[str, str, Path | None]] = field(default_factory=list)
    registry: str | None = None
    internal_domains: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)
    models: list[ModelTarget] = field(default_factory=list)
    endpoint: str | None = None
    endpoint_ca: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    expected_models: list[str] = field(default_factory=list)
    upstreams: list[EndpointTarget] = field(default_factory=list)
    timeout_s: float = 5.0
    runtime_envs: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    serving_uid: int = 1000680000
    deep: bool = False
    live: bool = False
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    registry_url: str | None = field(default=None, repr=False)  # may carry a password
    registry_explicit: bool = False  # --registry given (a missing database is a WARN, not a SKIP)
    rendered_dir: Path | None = None

    @property
    def ca_file(self) -> Path | None:
        """The first configured CA file (cluster.ca_bundle, then --ca)."""
        return self.ca_files[0][1] if self.ca_files else None


def _rel(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else base / p


def _parse_adapter(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise UsageError(f"--adapter {text!r}: expected NAME=DIR",
                         hint="e.g. --adapter legal=/mnt/models/adapters/legal")
    return name, Path(path)


def build_plan(
    kitchen: Path | None,
    *,
    env: Mapping[str, str],
    model: Path | None = None,
    served_model_name: str | None = None,
    adapters: list[str] | None = None,
    max_lora_rank: int | None = None,
    ca: list[Path] | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    deep: bool = False,
    live: bool = False,
    registry: str | None = None,
    rendered: Path | None = None,
    timeout_s: float | None = None,
) -> DoctorPlan:
    """Compose the plan.

    Args:
        kitchen: kitchen.yaml, or None to check only what the options name.
        env: the environment (Settings.environ): S3 keys by the names the config gives,
            the API key by ``doctor.api_key_env``, and, inside a pod, the runtime variables.
        model / served_model_name / adapters / max_lora_rank: a model directory to check
            (replaces the directory of the first cluster model, or adds one). Without
            ``model`` and without models in kitchen.yaml, ``served_model_name`` names the one
            model the endpoint checks list and taste.
        ca: extra CA files (PEM).
        endpoint / api_key: the endpoint to taste and its key.
        registry: the model registry for the lifecycle check: a database URL or ``auto``;
            default: with a ``gateway:`` section, the registry ``prai model -c kitchen.yaml``
            uses (``gateway.storage.url``, else PrAI's default gateway database).
        rendered: a ``prai render -o`` directory (what GitOps applies) to compare with it.
        timeout_s: seconds any endpoint may stay silent before its check FAILs
            (``--timeout``; default :attr:`DoctorPlan.timeout_s`).

    Raises:
        ConfigError: kitchen.yaml is invalid. UsageError: a malformed ``--adapter`` or
        ``--registry``.
    """
    plan = DoctorPlan(deep=deep, live=live, env=env, rendered_dir=rendered)
    if timeout_s is not None:
        plan.timeout_s = timeout_s
    doc_cfg = None
    gateway_cfg = None
    if kitchen is not None:
        from prai.config import load_kitchen

        cfg = load_kitchen(kitchen, env=env)
        plan.kitchen = kitchen
        base = kitchen.resolve().parent
        doc_cfg = cfg.doctor
        cl = cfg.cluster
        if doc_cfg is not None:
            plan.serving_uid = doc_cfg.serving_uid
            plan.endpoint = doc_cfg.endpoint
            if doc_cfg.api_key_env:
                plan.api_key = env.get(doc_cfg.api_key_env) or None
        if cl is not None:
            plan.registry = cl.registry
            plan.internal_domains = list(cl.internal_domains)
            if cl.ca_bundle is not None:
                plan.ca_files.append(("cluster.ca_bundle", _rel(base, cl.ca_bundle)))
            plan.images = [("vllm", cl.images.vllm.ref), ("prai", cl.images.prai.ref)]
            dc = cl.data_connection
            if dc is not None:
                plan.s3 = S3Target(
                    endpoint=dc.endpoint.rstrip("/"), bucket=dc.bucket, region=dc.region,
                    access_key_env=dc.credentials.access_key_id_env,
                    secret_key_env=dc.credentials.secret_access_key_env,
                    access_key=env.get(dc.credentials.access_key_id_env) or None,
                    secret_key=env.get(dc.credentials.secret_access_key_env) or None,
                    prefix=(doc_cfg.s3_prefix.strip("/") if doc_cfg and doc_cfg.s3_prefix else None),
                )
                plan.tls_endpoints.append(("data_connection", dc.endpoint, plan.ca_file))
            plan.tls_endpoints.append(("registry", f"https://{cl.registry}", plan.ca_file))
            for m in cl.models:
                if m.storage.oci is not None:
                    plan.images.append((f"{m.name} modelcar", m.storage.oci.ref))
                bundle = _rel(base, m.bundle) if m.bundle else None
                mdir = (doc_cfg.model_dirs.get(m.name) if doc_cfg else None)
                if mdir is None:
                    mdir = m.local_dir if m.local_dir is not None else (bundle / "model" if bundle else None)
                mdir = _rel(base, mdir) if mdir is not None else Path("/mnt/models")
                ads = {}
                for a in m.adapters:
                    if a.local_dir is not None:
                        ads[a.name] = _rel(base, a.local_dir)
                    elif bundle is not None:
                        ads[a.name] = bundle / "adapters" / a.name
                plan.models.append(ModelTarget(
                    name=m.name, dir=mdir, bundle=bundle, adapters=ads,
                    max_lora_rank=m.vllm.max_lora_rank, aliases=list(m.aliases),
                    gpu_memory_bytes=int(m.gpu.memory_gib * 2**30),
                    vllm=m.vllm.model_dump(),
                    headroom=m.storage.pvc.headroom if m.storage.pvc else 0.3,
                    engine_args=list(m.vllm.extra_args),
                    source="cluster",
                ))
        gw = gateway_cfg = cfg.gateway
        if gw is not None:
            for up in gw.upstreams:
                ca_up = _rel(base, up.ca_bundle) if up.ca_bundle else None
                if ca_up is not None:
                    plan.ca_files.append((f"gateway.upstreams[{up.name}].ca_bundle", ca_up))
                for i, u in enumerate(up.base_urls):
                    if u.startswith("https://"):
                        plan.tls_endpoints.append((f"upstream {up.name}", u, ca_up))
                    label = f"upstream {up.name}" + (f" #{i + 1}" if len(up.base_urls) > 1 else "")
                    plan.upstreams.append(EndpointTarget(label=label, url=u, ca=ca_up, api_key=up.api_key,
                                                         expected=list(up.models)))
                if up.serve is not None:
                    s = up.serve
                    plan.models.append(ModelTarget(
                        name=s.served_model_name or _rel(base, s.model).name,
                        dir=_rel(base, s.model),
                        adapters={k: _rel(base, v) for k, v in s.lora_modules.items()},
                        max_lora_rank=_flag_int(s.args, "--max-lora-rank"),
                        engine_args=list(s.args),
                        source="serve",
                    ))
                    if plan.endpoint is None:
                        plan.endpoint = up.base_urls[0]
    for p in ca or []:
        plan.ca_files.append(("--ca", p))
    if model is not None:
        target = ModelTarget(name=served_model_name or model.name, dir=model)
        if plan.models:
            target = plan.models[0]
            target.dir = model
            if served_model_name:
                target.name = served_model_name
        else:
            plan.models.append(target)
        for text in adapters or []:
            n, p = _parse_adapter(text)
            target.adapters[n] = p
        if max_lora_rank is not None:
            target.max_lora_rank = max_lora_rank
    elif adapters:
        raise UsageError("--adapter needs --model (the base model the adapters are checked against)")
    if endpoint is not None:
        plan.endpoint = endpoint
    if api_key:
        plan.api_key = api_key
    if plan.endpoint and plan.endpoint.startswith("https://"):
        plan.endpoint_ca = plan.ca_file
        if not any(u == plan.endpoint for _, u, _ in plan.tls_endpoints):
            plan.tls_endpoints.append(("endpoint", plan.endpoint, plan.ca_file))
    for mt in plan.models:
        plan.expected_models += [mt.name, *mt.adapters]
    if model is None and served_model_name:
        if plan.models:
            raise UsageError(
                "--served-model-name without --model: kitchen.yaml already names the models to check",
                hint="pass --model DIR with it, or drop it")
        # Only the served name: taste that model, not every model the endpoint lists.
        plan.expected_models = [served_model_name]
        for t in plan.upstreams:
            t.expected = [m for m in t.expected if m == served_model_name]
    if registry is not None or gateway_cfg is not None:
        from prai.deploy.promoted import AUTO, resolve_registry_url
        from prai.errors import PraiError

        try:
            plan.registry_url = resolve_registry_url(registry or AUTO, gateway=gateway_cfg, env=env)
        except PraiError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None
        plan.registry_explicit = registry is not None
    return plan


def _flag_int(args: list[str], flag: str) -> int | None:
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args) and args[i + 1].isdigit():
            return int(args[i + 1])
        if a.startswith(flag + "=") and a.split("=", 1)[1].isdigit():
            return int(a.split("=", 1)[1])
    return None


__all__ = ["DoctorPlan", "EndpointTarget", "ModelTarget", "S3Target", "build_plan"]
