"""``prai render``: kitchen.yaml -> a validated kustomize directory for OpenShift AI.

Steps (any failure raises one PraiError before anything is written):
1. load kitchen.yaml and its ``cluster:`` section; read the CA bundle and check it;
2. read each model's config.json and each adapter's adapter_config.json (with
   ``registry=``: the promoted adapter versions of the model registry, see
   :mod:`prai.deploy.promoted`); derive ``--max-lora-rank`` / ``--max-loras``; size PVCs;
   check the GPU fit;
3. build every object, validate it against its schema (offline) and run the semantic
   checks (prai.deploy.semantic);
4. serialise deterministically (same input -> byte-identical files).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from prai.config import load_kitchen
from prai.config.cluster import ClusterConfig, ModelDeploy
from prai.deploy import _connected, _model, _platform, semantic
from prai.deploy._common import ModelPlan, Obj, Plan, lora_rank_for, parse_quantity
from prai.deploy.facts import read_bundle_facts
from prai.deploy.gpufit import GIB, check_gpu_fit
from prai.deploy.output import MARKER, sha256_text, to_yaml
from prai.deploy.promoted import (
    PromotedVersion,
    RegistryState,
    annotation_text,
    check_engine_path,
    read_registry,
    resolve_registry_url,
)
from prai.deploy.validate import validate_document, validate_objects
from prai.errors import (
    CaBundleError,
    ConfigError,
    DeployError,
    GpuDoesNotFit,
    ModelFactsError,
    RegistryStateError,
)
from prai.modelfiles.adapter import AdapterFacts, read_adapter_facts
from prai.modelfiles.model_dir import read_model_facts

Entrance = Literal["prai", "kong"]


@dataclass
class RenderResult:
    """A finished render, not yet written.

    Attributes:
        files: relative POSIX path -> file text (kustomization, objects, extras, marker).
        objects: (file, object) pairs in the kustomization.
        summary: JSON-ready facts (models, GPU fit, schemas used, notes).
    """

    files: dict[str, str]
    objects: list[tuple[str, Obj]]
    summary: dict[str, Any] = field(default_factory=dict)

# What `prai render` says when it has no KServe CRDs (README "prai render" says the same).
CRD_HOWTO = (
    "no KServe CRDs: InferenceService and ServingRuntime got the semantic checks only, no schema "
    "validation. Get your cluster's CRDs (where `oc` is logged in): `mkdir -p crds && oc get crd "
    "inferenceservices.serving.kserve.io servingruntimes.serving.kserve.io -o yaml > "
    "crds/kserve-crds.yaml`, carry crds/ in, then render again with --crd-dir crds"
)


def _resolve(base: Path, p: Path) -> Path:
    return p if p.is_absolute() else (base / p)


def read_ca_bundle(path: Path, *, now: dt.datetime | None = None) -> str:
    """Read a PEM CA bundle; every certificate must be a CA and valid now.

    Returns:
        The PEM text, normalised to end with one newline.

    Raises:
        CaBundleError: missing file, no PEM certificate, not a CA, expired or not yet valid.
    """
    from cryptography import x509

    try:
        data = path.read_bytes()
    except OSError:
        raise CaBundleError(f"{path}: CA bundle not found or unreadable") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise CaBundleError(f"{path}: not a PEM certificate bundle") from None
    now = now or dt.datetime.now(dt.UTC)
    for c in certs:
        subject = c.subject.rfc4514_string()
        constraints = [e.value for e in c.extensions if isinstance(e.value, x509.BasicConstraints)]
        if not (constraints and constraints[0].ca):
            raise CaBundleError(f"{path}: {subject} is not a CA certificate (basicConstraints "
                                "CA:TRUE missing); it looks like a server certificate")
        if c.not_valid_after_utc < now:
            raise CaBundleError(f"{path}: {subject} expired on "
                                f"{c.not_valid_after_utc:%Y-%m-%d}")
        if c.not_valid_before_utc > now:
            raise CaBundleError(f"{path}: {subject} is not valid before "
                                f"{c.not_valid_before_utc:%Y-%m-%d}")
    return data.decode("ascii").strip() + "\n"


def _raw_gateway(kitchen: Path) -> dict[str, Any] | None:
    """The ``gateway:`` section as written (``${ENV}`` references not expanded)."""
    try:
        raw = yaml.safe_load(kitchen.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    g = raw.get("gateway") if isinstance(raw, dict) else None
    return g if isinstance(g, dict) else None


def _registry_adapters(m: ModelDeploy, state: RegistryState | None,
                       ) -> tuple[list[PromotedVersion], str | None]:
    """The promoted versions whose base is ``m`` (its served name or one of its aliases) and
    the annotation text; ([], None) without a registry.

    Raises:
        RegistryStateError: a version's path is not under /mnt/models, or its rank is
            unknown while ``vllm.max_lora_rank`` is not set.
    """
    if state is None:
        return [], None
    bases = {m.name, *m.aliases}
    out: list[PromotedVersion] = []
    for a in state.aliases:
        for v in a.versions:
            if v.base not in bases:
                continue
            check_engine_path(v, m.name)
            if v.rank is None and m.vllm.max_lora_rank is None:
                raise RegistryStateError(
                    f"{v.served_name} ({v.role} version of {v.alias}): the registry records no "
                    f"LoRA rank, so --max-lora-rank of {m.name} cannot be derived",
                    hint=f"set cluster.models[{m.name}].vllm.max_lora_rank to at least the "
                    "adapter's rank (r in its adapter_config.json)",
                )
            out.append(replace(v, path=v.path.rstrip("/")))
    hosted = {v.alias for v in out}
    return out, annotation_text([a for a in state.aliases if a.name in hosted])


def _model_plan(cluster: ClusterConfig, base: Path, idx: int,
                state: RegistryState | None = None) -> ModelPlan:
    m = cluster.models[idx]
    registered, promoted = _registry_adapters(m, state)
    # A kitchen adapter named like a routed alias is superseded: the gateway sends that
    # name to ALIAS@VERSION, so the plain name would never be reached.
    routed = {v.alias for v in registered}
    in_bundle: dict[str, AdapterFacts] = {}
    if m.bundle is not None:
        bundle = _resolve(base, m.bundle)
        facts, in_bundle = read_bundle_facts(bundle)
    if m.local_dir is not None:
        facts = read_model_facts(_resolve(base, m.local_dir))
    adapters = []
    for a in m.adapters:
        if a.name in routed:
            continue
        if a.local_dir is not None:
            adapters.append((a, read_adapter_facts(_resolve(base, a.local_dir))))
        elif a.name in in_bundle:
            adapters.append((a, in_bundle[a.name]))
        else:
            raise ModelFactsError(
                f"cluster.models[{m.name}].adapters[{a.name}]: not in the bundle manifest "
                f"(it has: {', '.join(sorted(in_bundle)) or 'no adapters'})",
                hint="name the adapter as in the bundle (prai bundle inspect), or give local_dir",
            )
    max_rank = max([f.rank for _, f in adapters] + [r.rank for r in registered if r.rank],
                   default=0)
    n_adapters = len(adapters) + len(registered)
    v = m.vllm
    lora_rank = v.max_lora_rank if v.max_lora_rank is not None else lora_rank_for(max_rank)
    gpu_count = m.gpu.count or v.tensor_parallel_size
    if gpu_count < v.tensor_parallel_size:
        raise ConfigError(
            f"cluster.models[{m.name}]: gpu.count {gpu_count} < vllm.tensor_parallel_size "
            f"{v.tensor_parallel_size}",
            hint="request at least tensor_parallel_size GPUs, or leave gpu.count unset",
        )
    mp = ModelPlan(cfg=m, facts=facts, adapters=adapters, max_lora_rank=lora_rank,
                   max_loras=v.max_loras or max(1, n_adapters), gpu_count=gpu_count,
                   registry_adapters=registered, promoted=promoted)
    raw_bytes = facts.total_bytes + sum(f.total_bytes for _, f in adapters)
    if m.storage.pvc is not None:
        mp.pvc_bytes = math.ceil(raw_bytes * (1 + m.storage.pvc.headroom))
        if m.storage.pvc.size and parse_quantity(m.storage.pvc.size) < raw_bytes:
            raise DeployError(
                f"cluster.models[{m.name}].storage.pvc.size {m.storage.pvc.size} is smaller "
                f"than the model and adapters ({raw_bytes / GIB:.2f} GiB)",
                hint="raise the size or leave it unset to size it from the files plus headroom "
                "(seed §7 Tips)",
            )
    mp.fit = check_gpu_fit(
        facts.config,
        max_model_len=v.max_model_len,
        max_num_seqs=v.max_num_seqs,
        gpu_memory_bytes=int(m.gpu.memory_gib * GIB),
        gpu_memory_utilization=v.gpu_memory_utilization,
        dtype=v.dtype,
        tensor_parallel_size=v.tensor_parallel_size,
        kv_cache_dtype=v.kv_cache_dtype,
        weight_bytes=facts.weight_bytes,
        max_loras=mp.max_loras if mp.has_adapters else 0,
        max_lora_rank=lora_rank if mp.has_adapters else 0,
    )
    if not mp.fit.fits:
        fit = mp.fit
        best = (f"the largest max_model_len that fits is {fit.max_model_len_fit} tokens"
                if fit.max_model_len_fit >= 16 else "even the weights do not fit")
        raise GpuDoesNotFit(
            f"cluster.models[{m.name}]: max_model_len {v.max_model_len} x max_num_seqs "
            f"{v.max_num_seqs} does not fit on {m.gpu.memory_gib:g} GiB x "
            f"{v.gpu_memory_utilization} ({v.tensor_parallel_size} GPU(s)): {fit.explain()}; "
            f"{best} (with less memory vLLM preempts requests under full load, or stops at "
            "start-up with 'max seq len ... larger than the maximum number of tokens that can "
            "be stored in KV cache')"
        )
    return mp


def _registry_notes(state: RegistryState, models: list[ModelPlan]) -> list[str]:
    """Notes for a render with a registry: superseded kitchen adapters, aliases not rendered."""
    notes = []
    rendered = set()
    for mp in models:
        routed = {r.alias: r.served_name for r in mp.registry_adapters if r.role == "current"}
        rendered |= {r.served_name for r in mp.registry_adapters}
        for a in mp.cfg.adapters:
            if a.name in routed:
                notes.append(f"{mp.cfg.name}: adapter {a.name} of kitchen.yaml is replaced by "
                             f"the registry's {routed[a.name]} (the gateway routes {a.name} there)")
    for al in state.aliases:
        for v in al.versions:
            if v.served_name not in rendered:
                notes.append(f"registry: {v.served_name} ({v.role} of {al.name}) runs on base "
                             f"{v.base!r}, which no cluster model serves; not rendered (add the "
                             "name to cluster.models[].aliases if it is one of them)")
    notes += [f"registry: {line}" for line in state.not_rendered]
    return notes


def _read_dashboard(path: Path) -> dict[str, Any]:
    """A Grafana dashboard JSON model (an object with ``panels``).

    Raises:
        ConfigError: missing, not JSON, or not a dashboard.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise ConfigError(f"cluster.monitoring.dashboard: {path} not found") from None
    except ValueError:
        raise ConfigError(f"cluster.monitoring.dashboard: {path} is not JSON") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("panels"), list):
        raise ConfigError(f"cluster.monitoring.dashboard: {path} is not a Grafana dashboard "
                          "(no panels list)")
    return doc


def _file_for(o: Obj) -> str:
    md = o["metadata"]
    kind = o["kind"].lower()
    if o["kind"] == "Namespace":
        return f"{md['name']}/namespace.yaml"
    folder = md.get("namespace") or "cluster"
    return f"{folder}/{kind}-{md['name']}.yaml"


def _readme(plan: Plan, entrance: Entrance, env_names: list[str]) -> str:
    c = plan.cluster
    lines = [
        "# PrAI render (generated by `prai render`; do not edit by hand)",
        "",
        "Apply in the closed network:",
        "",
        "    oc apply -k .",
        "",
        "Bring the images in first (connected side, then closed side):",
        "",
        "    oc mirror -c connected/imageset-config.yaml file://bring-in --v2",
        f"    oc mirror -c connected/imageset-config.yaml --from file://bring-in "
        f"docker://{c.registry} --v2",
        "",
    ]
    if c.data_connection and not plan.include_secrets:
        lines += [
            "The Data Connection Secrets carry no credentials (render without "
            "--include-secrets). Add them in each model namespace:",
            "",
        ]
        for ns in sorted({m.cfg.namespace for m in plan.models}):
            lines.append(f"    oc -n {ns} patch secret aws-connection-{c.data_connection.name} "
                         "--type merge -p '{\"stringData\":{\"AWS_ACCESS_KEY_ID\":\"...\","
                         "\"AWS_SECRET_ACCESS_KEY\":\"...\"}}'")
        lines.append("")
    if env_names:
        lines += ["The gateway config references these variables; put them in the "
                  f"`prai-gateway-env` Secret in {c.gateway.namespace}:", ""]
        lines += [f"    {n}" for n in env_names] + [""]
    if entrance == "kong":
        lines += ["Kong: `deck gateway sync kong/kong.yaml` with these variables set:", ""]
        for a, b in _connected.kong_env_names(plan):
            lines.append(f"    {a}  {b}")
        lines.append("")
    return "\n".join(lines)


def _env_refs(node: Any) -> set[str]:
    import re

    out: set[str] = set()
    if isinstance(node, str):
        out |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", node))
    elif isinstance(node, dict):
        for v in node.values():
            out |= _env_refs(v)
    elif isinstance(node, list):
        for v in node:
            out |= _env_refs(v)
    return out


def _check_gateway_config(plan: Plan, env: Mapping[str, str]) -> None:
    """The in-cluster gateway config must load with the gateway's own schema."""
    from pydantic import ValidationError

    from prai.config._base import _expand_env, format_validation_error
    from prai.config.kitchen import KitchenConfig

    doc = _platform.gateway_config(plan)
    placeholders = {n: env.get(n, "placeholder") for n in _env_refs(doc)}
    try:
        KitchenConfig.model_validate(_expand_env(doc, placeholders, ""))
    except ValidationError as exc:
        raise DeployError(
            "the rendered gateway config would not load:\n"
            + format_validation_error(exc, "prai-gateway-config/kitchen.yaml"),
            hint="fix the `gateway:` section of kitchen.yaml (docs/gateway.md)",
        ) from None


def render(
    kitchen_path: str | Path,
    *,
    entrance: Entrance = "prai",
    include_secrets: bool = False,
    crd_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
    registry: str | None = None,
    image_map: str | Path | None = None,
) -> RenderResult:
    """Render kitchen.yaml's ``cluster:`` section into files (nothing is written).

    Args:
        kitchen_path: kitchen.yaml; relative paths inside resolve against its directory.
        entrance: "kong" also writes ``kong/kong.yaml``.
        include_secrets: put S3 credentials (from the environment variables named in
            ``cluster.data_connection.credentials``) into the Data Connection Secret.
        crd_dir: directory of KServe CRD YAML files; None = KServe objects are checked only
            semantically (noted in the summary).
        env: environment for ``${ENV}`` expansion and credentials (default: os.environ via
            prai.settings).
        now: clock for the CA expiry check (tests).
        registry: the model registry to render the promoted state from: a database URL
            (``sqlite:///…/gateway.db``, ``postgresql://…``) or ``auto`` (the kitchen's
            ``gateway.storage.url``, else PrAI's default gateway database). For each model,
            every routed adapter alias whose version's base is the model (its name or one of
            its ``aliases``) adds ``--lora-modules`` entries for the current version and the
            canary (``ALIAS@VERSION``, the registry's path), and the InferenceService gets
            the ``prai.io/promoted`` annotation. None (default): no registry is read and the
            output is exactly as without this option.
        image_map: a mirror map written by ``prai bundle load --images-to``: missing
            ``cluster.images`` entries (and images given with ``source:`` only) are taken
            from it (:mod:`prai.deploy.image_map`).

    Raises:
        ConfigError, CaBundleError, ModelFactsError, GpuDoesNotFit, ManifestSchemaError,
        ImageNotInternal, StorageMismatch, AdapterRankTooLarge, AdapterBaseMismatch,
        ExternalHostname, SecretInPlainField, RegistryStateError, DeployError.
    """
    if env is None:
        from prai.settings import get_settings

        env = get_settings().environ
    kitchen = Path(kitchen_path)
    map_notes: list[str] = []
    prepare = None
    if image_map is not None:
        from prai.deploy.image_map import apply_image_map, read_image_map

        imap = read_image_map(image_map)

        def prepare(data: dict[str, Any]) -> dict[str, Any]:
            return apply_image_map(data, imap, map_notes)

    cfg = load_kitchen(kitchen, env=env, prepare=prepare)
    if cfg.cluster is None:
        raise ConfigError(f"{kitchen}: no `cluster:` section",
                          hint="add one as in examples/kitchen-cluster.yaml (docs/deploy.md)")
    cluster: ClusterConfig = cfg.cluster
    base = kitchen.parent
    ca_pem = read_ca_bundle(_resolve(base, cluster.ca_bundle), now=now) \
        if cluster.ca_bundle else None
    secret_values: dict[str, str] = {}
    if include_secrets:
        if cluster.data_connection is None:
            raise ConfigError("--include-secrets: kitchen.yaml has no cluster.data_connection")
        creds = cluster.data_connection.credentials
        for name in (creds.access_key_id_env, creds.secret_access_key_env):
            if not env.get(name):
                raise ConfigError(f"--include-secrets: environment variable {name} is not set",
                                  hint=f"export {name}=... (it is read, never printed)")
            secret_values[name] = env[name]
    state: RegistryState | None = None
    if registry is not None:
        state = read_registry(resolve_registry_url(registry, gateway=cfg.gateway, env=env))
    models = [_model_plan(cluster, base, i, state) for i in range(len(cluster.models))]
    plan = Plan(cluster=cluster, base_dir=base, models=models, ca_pem=ca_pem,
                gateway_raw=_raw_gateway(kitchen), include_secrets=include_secrets,
                secret_values=secret_values)
    if cluster.monitoring.dashboard is not None:
        plan.dashboard = _read_dashboard(_resolve(base, cluster.monitoring.dashboard))

    objs: list[Obj] = [_platform.image_digest_mirror_set(plan)]
    objs += _model.model_namespace_objects(plan)
    objs += _platform.gateway_objects(plan)
    objs += _platform.monitoring_objects(plan)
    placed = [(_file_for(o), o) for o in objs]
    names = [f for f, _ in placed]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DeployError(f"two objects would share a file: {', '.join(dupes)}",
                          hint="give models and PVCs distinct names")
    placed.sort(key=lambda p: (p[0].split("/")[0] != "cluster", p[0].split("/")[0],
                               not p[0].endswith("/namespace.yaml"), p[0]))

    k8s = cluster.kubernetes_version
    schemas = validate_objects(placed, k8s_version=k8s, crd_dir=crd_dir)
    _check_gateway_config(plan, env)
    semantic.check_all([o for _, o in placed], plan)

    files: dict[str, str] = {f: to_yaml(o) for f, o in placed}
    files["kustomization.yaml"] = to_yaml({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [f for f, _ in placed],
    })
    isc = _connected.imageset_config(plan)
    schemas["connected/imageset-config.yaml"] = validate_document(
        isc, ("mirror.openshift.io/v2alpha1", "ImageSetConfiguration"),
        "connected/imageset-config.yaml", k8s_version=k8s)
    files["connected/imageset-config.yaml"] = to_yaml(isc)
    if entrance == "kong":
        kong = _connected.kong_config(plan)
        schemas["kong/kong.yaml"] = validate_document(
            kong, ("kong", "declarative"), "kong/kong.yaml", k8s_version=k8s)
        files["kong/kong.yaml"] = to_yaml(kong)
    env_names = sorted(_env_refs(plan.gateway_raw or {}))
    files["README.md"] = _readme(plan, entrance, env_names)

    notes = list(map_notes)
    if crd_dir is None:
        notes.append(CRD_HOWTO)
    for mp in models:
        pvc = mp.cfg.storage.pvc
        if pvc is not None and mp.cfg.replicas > 1 and pvc.access_mode == "ReadWriteOnce":
            notes.append(f"{mp.cfg.name}: {mp.cfg.replicas} replicas share the ReadWriteOnce PVC "
                         f"{pvc.name}; pods on different nodes cannot mount it (use "
                         "ReadWriteMany or a modelcar)")
    if cluster.data_connection and not include_secrets:
        notes.append("Data Connection Secrets carry no credentials; see README.md in the output")
    if state is not None:
        notes += _registry_notes(state, models)
    summary: dict[str, Any] = {
        "kitchen": kitchen.name,
        "entrance": entrance,
        "objects": len(placed),
        "files": sorted([*files, MARKER]),
        "schemas": dict(sorted(schemas.items())),
        "models": [{
            "name": mp.cfg.name,
            "namespace": mp.cfg.namespace,
            "url": f"http://{mp.cfg.name}-predictor.{mp.cfg.namespace}.svc.cluster.local/v1",
            "adapters": [{"name": a.name, "rank": f.rank, "base_model": f.base_model_name or ""}
                         for a, f in mp.adapters]
                        + [{"name": r.served_name, "rank": r.rank, "base_model": r.base,
                            "alias": r.alias, "version": r.version, "role": r.role}
                           for r in mp.registry_adapters],
            "max_lora_rank": mp.max_lora_rank if mp.has_adapters else None,
            "pvc_bytes": mp.pvc_bytes or None,
            "gpu_fit": mp.fit.to_dict() if mp.fit else None,
        } for mp in models],
        "gateway_env": env_names,
        "notes": notes,
    }
    if state is not None:
        summary["registry"] = {
            "url": state.url,
            "aliases": {a.name: a.record() for a in state.aliases},
        }
    files[MARKER] = json.dumps(
        {"files": summary["files"],
         "sha256": {k: sha256_text(v) for k, v in sorted(files.items())}},
        indent=2, sort_keys=True) + "\n"
    return RenderResult(files=files, objects=placed, summary=summary)


__all__ = ["RenderResult", "read_ca_bundle", "render"]
