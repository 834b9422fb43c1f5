"""Semantic checks of rendered objects: what a schema cannot see but a closed network punishes.

Each check reads the rendered objects (so a hand-edited or future object is checked the
same way) and returns problems as ``(error class, message)``; :func:`check_all` raises
the first problem's class with every message (seed §14's checklist, as code):

- images come from the internal registry and are pinned by digest (§6, §14 "イメージ");
- each InferenceService's storageUri points at a PVC rendered in its namespace, or at an
  internal, pinned modelcar (§4 Tips "パスの不一致");
- each adapter's rank is <= ``--max-lora-rank`` and its base model is the served model
  (§13);
- no env value or argument names a host outside the closed network, and ``--model`` /
  ``--tokenizer`` are local paths, not hub repo ids (§2, §8);
- no secret value sits in a plain field (args, env values, ConfigMaps, metadata).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from prai.deploy._common import Plan
from prai.deploy.facts import same_model
from prai.errors import (
    AdapterBaseMismatch,
    AdapterRankTooLarge,
    DeployError,
    ExternalHostname,
    ImageNotInternal,
    SecretInPlainField,
    StorageMismatch,
)

Problem = tuple[type[DeployError], str]
Obj = dict[str, Any]

_DIGEST_REF = re.compile(r"@sha256:[0-9a-f]{64}$")
_URL_HOST = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^@/\s]*@)?(\[[^\]]+\]|[^/\s:\"'?#,]+)")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?::[0-9]+)?$")
_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)", re.I)
_NOT_SECRET_NAME = re.compile(r"(_FILE|_BUNDLE|_PATH|_DIR|_ENV|_ID)$", re.I)
_SECRET_ARG = re.compile(r"^--(api-key|hf-token|token|password|secret[\w-]*)(=|$)", re.I)
_SECRET_YAML_KEY = re.compile(r"(api_key|apikey|password|passwd|secret|token)$", re.I)
_ENV_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$")


def _where(o: Obj) -> str:
    md = o.get("metadata") or {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{o.get('kind')} {ns}{md.get('name')}"


def containers(o: Obj) -> Iterator[tuple[str, Obj]]:
    """(label, container) of every container an object runs (Deployment, runtime, ISVC)."""
    kind, spec = o.get("kind"), o.get("spec") or {}
    if kind == "Deployment":
        pod = (spec.get("template") or {}).get("spec") or {}
    elif kind in ("ServingRuntime", "ClusterServingRuntime"):
        pod = spec
    elif kind == "InferenceService":
        pod = spec.get("predictor") or {}
        if isinstance(pod.get("model"), dict):
            yield "predictor.model", pod["model"]
    else:
        return
    for field in ("initContainers", "containers"):
        for c in pod.get(field) or []:
            yield f"{field}[{c.get('name')}]", c


def check_images(objects: list[Obj], registry: str) -> list[Problem]:
    """Every image (and oci:// storageUri) is ``REGISTRY/...@sha256:<digest>``."""
    out: list[Problem] = []
    prefix = registry.rstrip("/") + "/"

    def check(ref: str, where: str) -> None:
        if not ref.startswith(prefix):
            out.append((ImageNotInternal, f"{where}: image {ref} is not in the internal "
                        f"registry {registry}"))
        elif not _DIGEST_REF.search(ref):
            out.append((ImageNotInternal, f"{where}: image {ref} is not pinned by digest "
                        "(@sha256:...)"))

    for o in objects:
        for label, c in containers(o):
            if "image" in c:
                check(str(c["image"]), f"{_where(o)} {label}")
        if o.get("kind") == "InferenceService":
            uri = str(((o.get("spec") or {}).get("predictor") or {}).get("model", {})
                      .get("storageUri", ""))
            if uri.startswith("oci://"):
                check(uri[len("oci://"):], f"{_where(o)} storageUri")
    return out


def check_storage(objects: list[Obj]) -> list[Problem]:
    """storageUri pvc://NAME/PATH names a PVC rendered in the InferenceService's namespace."""
    out: list[Problem] = []
    pvcs = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects
            if o.get("kind") == "PersistentVolumeClaim"}
    runtimes = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects
                if o.get("kind") == "ServingRuntime"}
    for o in objects:
        if o.get("kind") != "InferenceService":
            continue
        ns = o["metadata"].get("namespace")
        model = ((o.get("spec") or {}).get("predictor") or {}).get("model") or {}
        uri = str(model.get("storageUri", ""))
        if uri.startswith("pvc://"):
            name, _, path = uri[len("pvc://"):].partition("/")
            if (ns, name) not in pvcs:
                have = sorted(n for s, n in pvcs if s == ns) or ["none"]
                out.append((StorageMismatch, f"{_where(o)}: storageUri {uri} names PVC {name!r}, "
                            f"but the PVCs rendered in {ns} are: {', '.join(have)}"))
            elif not path or ".." in path.split("/"):
                out.append((StorageMismatch, f"{_where(o)}: storageUri {uri} needs a path "
                            "inside the PVC without '..'"))
        elif not uri.startswith("oci://"):
            out.append((StorageMismatch, f"{_where(o)}: storageUri {uri or '(none)'} is neither "
                        "pvc:// nor oci:// (a closed network has no hub or public bucket)"))
        rt = model.get("runtime")
        if rt and (ns, rt) not in runtimes:
            out.append((StorageMismatch, f"{_where(o)}: runtime {rt!r} is not rendered in {ns}"))
    return out


def _arg_value(args: list[str], flag: str) -> str | None:
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None


def _lora_modules(args: list[str]) -> list[dict[str, Any]]:
    out = []
    if "--lora-modules" in args:
        for a in args[args.index("--lora-modules") + 1:]:
            if a.startswith("--"):
                break
            try:
                out.append(json.loads(a))
            except json.JSONDecodeError:
                out.append({"name": a})
    return out


def check_adapters(objects: list[Obj], plan: Plan) -> list[Problem]:
    """Adapter rank <= --max-lora-rank; adapter base model == the served model."""
    out: list[Problem] = []
    by_name = {(mp.cfg.namespace, mp.cfg.name): mp for mp in plan.models}
    for o in objects:
        if o.get("kind") != "InferenceService":
            continue
        key = (o["metadata"].get("namespace"), o["metadata"]["name"])
        mp = by_name.get(key)
        model = ((o.get("spec") or {}).get("predictor") or {}).get("model") or {}
        args = [str(a) for a in model.get("args") or []]
        modules = _lora_modules(args)
        if mp is None or not modules:
            continue
        served = _arg_value(args, "--served-model-name") or key[1]
        max_rank = int(_arg_value(args, "--max-lora-rank") or 16)  # vLLM's default
        facts = {a.name: f for a, f in mp.adapters}
        registered = {r.served_name: r.rank for r in mp.registry_adapters}
        known = {served, *mp.cfg.aliases, *mp.facts.names}
        for mod in modules:
            name = str(mod.get("name"))
            if mod.get("base_model_name") not in (None, served):
                out.append((AdapterBaseMismatch, f"{_where(o)}: --lora-modules {name}: "
                            f"base_model_name {mod.get('base_model_name')!r} is not the served "
                            f"model {served!r}"))
            f = facts.get(name)
            if f is None:
                rank = registered.get(name)
                if rank is not None and rank > max_rank:
                    out.append((AdapterRankTooLarge, f"{_where(o)}: adapter {name} has LoRA rank "
                                f"{rank} (the model registry's record), above --max-lora-rank "
                                f"{max_rank}; vLLM would refuse it"))
                continue
            if f.rank > max_rank:
                out.append((AdapterRankTooLarge, f"{_where(o)}: adapter {name} has LoRA rank "
                            f"{f.rank} (r in {f.path}/adapter_config.json), above "
                            f"--max-lora-rank {max_rank}; vLLM would refuse it"))
            if f.base_model_name and not same_model(f.base_model_name, known):
                out.append((AdapterBaseMismatch, f"{_where(o)}: adapter {name} was trained on "
                            f"{f.base_model_name!r} (adapter_config.json base_model_name_or_path), "
                            f"but {served!r} serves {', '.join(sorted(mp.facts.names))}"))
    return out


def _internal(host: str, domains: list[str]) -> bool:
    h = host.lower()
    h = h[1:h.index("]")] if h.startswith("[") and "]" in h else h.split(":")[0]
    try:
        ip = ipaddress.ip_address(h)
        return ip.is_private or ip.is_loopback or ip.is_link_local
    except ValueError:
        pass
    if "." not in h:
        return True  # a Service name in the same namespace
    return any(h == d or h.endswith("." + d) for d in domains)


def _hosts(text: str) -> list[str]:
    hosts = [m.group(1) for m in _URL_HOST.finditer(text)]
    if not hosts:
        for tok in re.split(r"[\s=,\"'{}]+", text):
            if _DOMAIN.match(tok.lower()):
                hosts.append(tok)
    return hosts


def check_hosts(objects: list[Obj], plan: Plan) -> list[Problem]:
    """No external host in env values, args or config files; --model/--tokenizer are local."""
    out: list[Problem] = []
    domains = plan.internal_domains()
    for o in objects:
        if o.get("kind") == "ConfigMap":
            for key, text in sorted((o.get("data") or {}).items()):
                if key.endswith((".yaml", ".yml")):
                    for m in _URL_HOST.finditer(str(text)):
                        if not _internal(m.group(1), domains):
                            out.append((ExternalHostname, f"{_where(o)} data.{key}: names the "
                                        f"external host {m.group(1)}"))
        for label, c in containers(o):
            where = f"{_where(o)} {label}"
            texts = [(f"command {a!r}", str(a)) for a in c.get("command") or []]
            texts += [(f"arg {a!r}", str(a)) for a in c.get("args") or []]
            texts += [(f"env {e.get('name')}", str(e["value"])) for e in c.get("env") or []
                      if "value" in e]
            for what, text in texts:
                for h in _hosts(text):
                    if not _internal(h, domains):
                        out.append((ExternalHostname, f"{where}: {what} names the external "
                                    f"host {h} (internal: {', '.join(domains)})"))
            args = [str(a) for a in c.get("args") or []]
            command = [str(a) for a in c.get("command") or []]
            for flag in ("--model", "--tokenizer"):
                v = _arg_value(args, flag)
                if flag == "--model" and command[:2] == ["vllm", "serve"]:
                    # `vllm serve MODEL`: the positional model wins over --model.
                    v = next((a for a in (command + args)[2:3] if not a.startswith("-")), v)
                if v is not None and not v.startswith("/"):
                    out.append((ExternalHostname, f"{where}: {flag}={v} is not a local path; "
                                "vLLM would try to download it from the hub (seed §8)"))
    return out


def _walk_yaml_secrets(node: Any, path: str) -> Iterator[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            p = f"{path}.{k}" if path else str(k)
            if isinstance(v, str) and _SECRET_YAML_KEY.search(str(k)) and v and \
                    not _ENV_REF.match(v):
                yield p
            else:
                yield from _walk_yaml_secrets(v, p)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_yaml_secrets(v, f"{path}[{i}]")


def check_secrets(objects: list[Obj], plan: Plan) -> list[Problem]:
    """Secret values appear only in Secrets; secret-named env vars use secretKeyRef."""
    out: list[Problem] = []
    values = [v for v in plan.secret_values.values() if len(v) >= 4]
    for o in objects:
        where = _where(o)
        if o.get("kind") != "Secret":
            dumped = json.dumps(o, ensure_ascii=False)
            if any(v in dumped for v in values):
                out.append((SecretInPlainField, f"{where}: contains a secret value "
                            "(S3 credentials) outside a Secret"))
        for label, c in containers(o):
            for e in c.get("env") or []:
                name = str(e.get("name", ""))
                if e.get("value") and _SECRET_NAME.search(name) and \
                        not _NOT_SECRET_NAME.search(name):
                    out.append((SecretInPlainField, f"{where} {label}: env {name} has a plain "
                                "value; use valueFrom.secretKeyRef"))
            for a in c.get("args") or []:
                if _SECRET_ARG.match(str(a)):
                    out.append((SecretInPlainField, f"{where} {label}: argument "
                                f"{str(a).split('=')[0]} carries a secret on the command line"))
        if o.get("kind") == "ConfigMap":
            for key, text in (o.get("data") or {}).items():
                if not key.endswith((".yaml", ".yml")):
                    continue
                try:
                    doc = yaml.safe_load(text)
                except yaml.YAMLError:
                    continue
                for p in _walk_yaml_secrets(doc, ""):
                    out.append((SecretInPlainField, f"{where} data.{key}: {p} holds a literal "
                                "secret; write ${ENV} and put the value in the prai-gateway-env "
                                "Secret"))
    return out


def check_all(objects: list[Obj], plan: Plan) -> None:
    """Run every check; raise the first problem's error class listing all problems.

    Raises:
        ImageNotInternal, StorageMismatch, AdapterRankTooLarge, AdapterBaseMismatch,
        ExternalHostname, SecretInPlainField.
    """
    problems = (check_images(objects, plan.cluster.registry) + check_storage(objects)
                + check_adapters(objects, plan) + check_hosts(objects, plan)
                + check_secrets(objects, plan))
    if problems:
        cls = problems[0][0]
        msgs = list(dict.fromkeys(m for _, m in problems))
        raise cls("\n".join(msgs))


__all__ = [
    "check_adapters",
    "check_all",
    "check_hosts",
    "check_images",
    "check_secrets",
    "check_storage",
    "containers",
]
