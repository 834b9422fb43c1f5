"""Offline schema validation of rendered objects.

Three sources, all local files (nothing is fetched):

- Kubernetes core types: the JSON schemas shipped in the ``kubernetes-validate`` package
  (strict variants: unknown fields are errors), for the configured Kubernetes version.
- KServe (InferenceService, ServingRuntime): the real CRDs' ``openAPIV3Schema`` read
  from a directory of CRD YAML files (``../shared/schemas/kserve`` in this project; the
  target cluster's own: ``oc get crd inferenceservices.serving.kserve.io
  servingruntimes.serving.kserve.io -o yaml > DIR/kserve-crds.yaml``, a ``kind: List``). As
  the API server does for structural schemas, unknown fields are treated as errors
  (``additionalProperties: false`` is added where the schema neither lists
  ``additionalProperties`` nor sets ``x-kubernetes-preserve-unknown-fields``);
  ``metadata`` is checked against Kubernetes' ObjectMeta.
- OpenShift, Prometheus Operator, oc-mirror and Kong formats: the small schemas in
  ``prai/deploy/schemas/`` (each names its source).
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource

from prai.errors import ManifestSchemaError

_OBJECT_META = (
    "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
)
_OWN = {
    ("route.openshift.io/v1", "Route"): "route-route.openshift.io-v1.json",
    ("config.openshift.io/v1", "ImageDigestMirrorSet"):
        "imagedigestmirrorset-config.openshift.io-v1.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring.coreos.com-v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-monitoring.coreos.com-v1.json",
    ("mirror.openshift.io/v2alpha1", "ImageSetConfiguration"):
        "imagesetconfiguration-mirror.openshift.io-v2alpha1.json",
    ("kong", "declarative"): "kong-declarative-3.0.json",
}
KSERVE_KINDS = {"InferenceService", "ServingRuntime", "ClusterServingRuntime"}


def _schema_dir(k8s_version: str) -> Any:
    root = resources.files("kubernetes_validate").joinpath("kubernetes-json-schema")
    return root.joinpath(f"v{k8s_version}.0-local-strict")


@lru_cache(maxsize=4)
def _definitions(k8s_version: str) -> Resource[Any]:
    d = _schema_dir(k8s_version).joinpath("_definitions.json")
    if not d.is_file():
        raise ManifestSchemaError(
            f"kubernetes-validate has no schemas for Kubernetes {k8s_version}",
            hint="set cluster.kubernetes_version to a version kubernetes-validate ships "
            "(1.25 or later)",
        )
    return Resource.from_contents(json.loads(d.read_text(encoding="utf-8")))


def _registry(k8s_version: str) -> Registry[Any]:
    return _definitions(k8s_version) @ Registry()


@lru_cache(maxsize=64)
def _core_schema(k8s_version: str, api_version: str, kind: str) -> dict[str, Any] | None:
    group_version = api_version.split("/")
    api = f"{group_version[0].split('.')[0]}-{group_version[1]}" if len(group_version) == 2 else group_version[0]
    f = _schema_dir(k8s_version).joinpath(f"{kind.lower()}-{api}.json")
    if not f.is_file():
        return None
    schema: dict[str, Any] = json.loads(f.read_text(encoding="utf-8"))
    return schema


@lru_cache(maxsize=16)
def _own_schema(name: str) -> dict[str, Any]:
    text = resources.files("prai.deploy").joinpath("schemas", name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _strictify(node: Any) -> Any:
    """Unknown fields become errors, as the API server prunes/rejects them."""
    if isinstance(node, dict):
        node = {k: _strictify(v) for k, v in node.items()}
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strictify(v) for v in node]
    return node


@lru_cache(maxsize=4)
def _kserve_schemas(crd_dir: str) -> dict[tuple[str, str], dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for f in sorted(Path(crd_dir).glob("*.yaml")):
        docs = list(yaml.load_all(f.read_text(encoding="utf-8"), Loader=loader))
        # `oc get crd A B -o yaml` writes one `kind: List` whose items are the CRDs.
        docs += [i for d in docs if isinstance(d, dict) and d.get("kind") == "List" for i in d.get("items") or []]
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            for v in spec.get("versions", []):
                s = (v.get("schema") or {}).get("openAPIV3Schema")
                if not s:
                    continue
                s = _strictify(copy.deepcopy(s))
                s["properties"]["metadata"] = {"$ref": _OBJECT_META}
                s["properties"].pop("status", None)
                out[(f"{spec['group']}/{v['name']}", spec["names"]["kind"])] = s
    return out


def _where(obj: dict[str, Any]) -> str:
    md = obj.get("metadata") or {}
    ns = f"{md['namespace']}/" if md.get("namespace") else ""
    return f"{obj.get('kind', '?')} {ns}{md.get('name', '?')}"


def _errors(schema: dict[str, Any], obj: Any, k8s_version: str) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(k8s_version))
    out = []
    for e in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        path = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        out.append(f"{path}: {e.message}")
    return out


def schema_for(obj: dict[str, Any], *, k8s_version: str, crd_dir: Path | None
               ) -> tuple[str, dict[str, Any] | None]:
    """(source name, schema) for an object; schema None when no schema is known."""
    key = (str(obj.get("apiVersion")), str(obj.get("kind")))
    if key[1] in KSERVE_KINDS:
        if crd_dir is None:
            return "kserve-crd (not available)", None
        return f"kserve-crd {crd_dir}", _kserve_schemas(str(crd_dir)).get(key)
    if key in _OWN:
        return f"prai/deploy/schemas/{_OWN[key]}", _own_schema(_OWN[key])
    return (f"kubernetes-validate {k8s_version}",
            _core_schema(k8s_version, key[0], key[1]))


def validate_objects(
    objects: list[tuple[str, dict[str, Any]]],
    *,
    k8s_version: str,
    crd_dir: Path | None,
) -> dict[str, str]:
    """Validate every (file name, object); return {file: schema source} for the summary.

    Raises:
        ManifestSchemaError: an object fails its schema (all failures listed), has no
            schema while it should (a KServe CRD missing from ``crd_dir``), or an unknown
            kind.
    """
    _definitions(k8s_version)  # raises when the version is not shipped
    problems: list[str] = []
    used: dict[str, str] = {}
    for fname, obj in objects:
        source, schema = schema_for(obj, k8s_version=k8s_version, crd_dir=crd_dir)
        if schema is None:
            if obj.get("kind") in KSERVE_KINDS and crd_dir is None:
                used[fname] = source
                continue
            problems.append(f"{fname}: {_where(obj)}: no schema for {obj.get('apiVersion')} "
                            f"{obj.get('kind')} ({source})")
            continue
        used[fname] = source
        for err in _errors(schema, obj, k8s_version):
            problems.append(f"{fname}: {_where(obj)}: {err}")
    if problems:
        shown = problems[:20]
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise ManifestSchemaError("rendered objects do not validate:\n" + "\n".join(shown) + more)
    return used


def validate_document(doc: dict[str, Any], schema_key: tuple[str, str], where: str,
                      *, k8s_version: str) -> str:
    """Validate a non-Kubernetes document (Kong config, ImageSetConfiguration).

    Raises:
        ManifestSchemaError: the document fails its schema.
    """
    name = _OWN[schema_key]
    errs = _errors(_own_schema(name), doc, k8s_version)
    if errs:
        raise ManifestSchemaError(f"{where} does not validate:\n" + "\n".join(errs[:20]))
    return f"prai/deploy/schemas/{name}"


__all__ = ["KSERVE_KINDS", "schema_for", "validate_document", "validate_objects"]
