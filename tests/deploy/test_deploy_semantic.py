"""Each semantic error: raised with the evidence and a hint, before anything is written."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from prai.deploy import render, semantic
from prai.errors import (
    AdapterBaseMismatch,
    AdapterRankTooLarge,
    CaBundleError,
    ConfigError,
    DeployError,
    ExternalHostname,
    ImageNotInternal,
    ModelFactsError,
    SecretInPlainField,
    StorageMismatch,
)
from tests.deploy._deploy_util import EXAMPLES, model0, write_adapter


def _render_objects(crd_dir: Path) -> tuple[list[dict[str, Any]], Any]:
    """Objects and the plan of the example, for checks run on hand-edited objects."""
    import prai.deploy.renderer as r

    captured: dict[str, Any] = {}
    orig = semantic.check_all

    def spy(objects: list[dict[str, Any]], plan: Any) -> None:
        captured["objects"], captured["plan"] = objects, plan
        orig(objects, plan)

    r.semantic.check_all = spy  # type: ignore[assignment]
    try:
        render(EXAMPLES / "kitchen-cluster.yaml", crd_dir=crd_dir, env={})
    finally:
        r.semantic.check_all = orig  # type: ignore[assignment]
    return copy.deepcopy(captured["objects"]), captured["plan"]


def _find(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind)


def test_clean_render_passes_every_check(crd_dir: Path) -> None:
    objs, plan = _render_objects(crd_dir)
    semantic.check_all(objs, plan)


def test_image_outside_registry_in_config(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["cluster"]["images"]["vllm"]["mirror"] = "quay.io/modh/vllm"

    with pytest.raises(ImageNotInternal, match="not in the internal registry") as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    assert "quay.io/modh/vllm@sha256:" in str(ei.value)
    assert "oc-mirror" in ei.value.hint and ei.value.exit_code == 21


def test_tag_instead_of_digest_is_refused(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["cluster"]["images"]["prai"]["digest"] = "latest"

    with pytest.raises(ConfigError, match=r"images\.prai\.digest"):
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    objs, plan = _render_objects(crd_dir)
    dep = _find(objs, "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = \
        "registry.kitchen.internal:5000/prai/prai:latest"
    with pytest.raises(ImageNotInternal, match="not pinned by digest"):
        semantic.check_all(objs, plan)


def test_storage_uri_not_matching_pvc(crd_dir: Path) -> None:
    objs, plan = _render_objects(crd_dir)
    isvc = _find(objs, "InferenceService")
    isvc["spec"]["predictor"]["model"]["storageUri"] = "pvc://models-typo/tsuzumi-7b"
    with pytest.raises(StorageMismatch, match=r"names PVC 'models-typo'.*tsuzumi-7b-store") as ei:
        semantic.check_all(objs, plan)
    assert ei.value.exit_code == 22
    isvc["spec"]["predictor"]["model"]["storageUri"] = "hf://meta-llama/Llama-2-7b"
    with pytest.raises(StorageMismatch, match="neither pvc:// nor oci://"):
        semantic.check_all(objs, plan)


def test_adapter_rank_above_max_lora_rank(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["max_lora_rank"] = 16

    with pytest.raises(AdapterRankTooLarge, match=r"support has LoRA rank 64.*--max-lora-rank 16") \
            as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    assert "max_lora_rank" in ei.value.hint


def test_max_lora_rank_is_derived_from_adapters(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["adapters"].append({"name": "big", "path": "adapters/big",
                                        "local_dir": "cluster/adapters/big"})

    p = kitchen(edit=edit)
    write_adapter(p.parent / "cluster/adapters/big", r=100)
    result = render(p, crd_dir=crd_dir, env={})
    isvc = next(o for _, o in result.objects if o["kind"] == "InferenceService")
    assert "--max-lora-rank=128" in isvc["spec"]["predictor"]["model"]["args"]
    assert "--max-loras=3" in isvc["spec"]["predictor"]["model"]["args"]


def test_adapter_for_another_base_model(kitchen, crd_dir: Path) -> None:
    p = kitchen()
    write_adapter(p.parent / "cluster/adapters/legal", r=16,
                  base_model_name_or_path="meta-llama/Llama-2-13b-hf")
    with pytest.raises(AdapterBaseMismatch, match="legal was trained on "
                       "'meta-llama/Llama-2-13b-hf'") as ei:
        render(p, crd_dir=crd_dir, env={})
    assert ei.value.exit_code == 24


def test_alias_accepts_the_same_model_under_another_name(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["aliases"] = ["nttcslab/tsuzumi-7b-instruct-v1"]

    p = kitchen(edit=edit)
    write_adapter(p.parent / "cluster/adapters/legal", r=16,
                  base_model_name_or_path="/data/hub/nttcslab/tsuzumi-7b-instruct-v1/")
    render(p, crd_dir=crd_dir, env={})


def test_lora_module_base_name_must_be_served_name(crd_dir: Path) -> None:
    objs, plan = _render_objects(crd_dir)
    args = _find(objs, "InferenceService")["spec"]["predictor"]["model"]["args"]
    i = next(i for i, a in enumerate(args) if a.startswith('{"name":"legal"'))
    args[i] = args[i].replace('"base_model_name":"tsuzumi-7b"', '"base_model_name":"llama"')
    with pytest.raises(AdapterBaseMismatch, match="base_model_name 'llama'"):
        semantic.check_all(objs, plan)


@pytest.mark.parametrize(("extra", "expect"), [
    (["--tokenizer=meta-llama/Llama-2-7b-hf"], "not a local path"),
    (["--download-dir=https://huggingface.co/models"], "external host huggingface.co"),
    (["--otlp-traces-endpoint", "collector.example.com:4317"],
     "external host collector.example.com"),
])
def test_external_hostnames_and_hub_ids(kitchen, crd_dir: Path, extra: list[str],
                                        expect: str) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["extra_args"] = extra

    with pytest.raises(ExternalHostname, match=expect) as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    assert ei.value.exit_code == 25


def test_internal_hosts_pass(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["extra_args"] = [
            "--otlp-traces-endpoint=http://otel.kitchen.internal:4317",
            "--download-dir=/mnt/models/cache",
        ]

    render(kitchen(edit=edit), crd_dir=crd_dir, env={})


def test_external_host_in_gateway_config(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["gateway"]["storage"] = {"url": "postgresql://prai@db.example.com/prai"}

    with pytest.raises(ExternalHostname, match=r"data\.kitchen\.yaml: names the external host "
                       r"db\.example\.com"):
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})

    def internal(doc: dict[str, Any]) -> None:
        doc["gateway"]["storage"] = {"url": "postgresql://prai@db.kitchen.internal/prai"}

    render(kitchen(edit=internal), crd_dir=crd_dir, env={})


def test_hub_id_as_the_vllm_serve_model(crd_dir: Path) -> None:
    """`vllm serve MODEL` in the runtime's command is checked like --model."""
    objs, plan = _render_objects(crd_dir)
    rt = _find(objs, "ServingRuntime")
    rt["spec"]["containers"][0]["command"] = ["vllm", "serve", "meta-llama/Llama-2-7b-hf"]
    with pytest.raises(ExternalHostname, match=r"--model=meta-llama/Llama-2-7b-hf is not a local path"):
        semantic.check_all(objs, plan)


def test_external_host_in_env_value(crd_dir: Path) -> None:
    objs, plan = _render_objects(crd_dir)
    rt = _find(objs, "ServingRuntime")
    rt["spec"]["containers"][0]["env"].append({"name": "HF_ENDPOINT",
                                               "value": "https://huggingface.co"})
    with pytest.raises(ExternalHostname, match="env HF_ENDPOINT names the external host"):
        semantic.check_all(objs, plan)


def test_secret_on_the_command_line(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["extra_args"] = ["--api-key=sk-local-1234"]

    with pytest.raises(SecretInPlainField, match="--api-key carries a secret") as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    assert ei.value.exit_code == 26


def test_secret_value_outside_a_secret(kitchen, crd_dir: Path) -> None:
    env = {"PANTRY_ACCESS_KEY_ID": "AKIAEXAMPLEKEY", "PANTRY_SECRET_ACCESS_KEY": "s3cr3t-value"}

    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["vllm"]["extra_args"] = ["--uvicorn-log-level=s3cr3t-value"]

    with pytest.raises(SecretInPlainField, match=r"InferenceService .*contains a secret value"):
        render(kitchen(edit=edit), include_secrets=True, crd_dir=crd_dir, env=env)


def test_secret_env_and_literal_in_configmap(crd_dir: Path) -> None:
    objs, plan = _render_objects(crd_dir)
    dep = _find(objs, "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "PRAI_UPSTREAM_API_KEY", "value": "sk-abc"})
    with pytest.raises(SecretInPlainField, match="env PRAI_UPSTREAM_API_KEY has a plain value"):
        semantic.check_all(objs, plan)
    objs, plan = _render_objects(crd_dir)
    cm = next(o for o in objs if o["metadata"]["name"] == "prai-gateway-config")
    cm["data"]["kitchen.yaml"] += "extra:\n  api_key: sk-live-123\n"
    with pytest.raises(SecretInPlainField, match=r"extra\.api_key holds a literal secret"):
        semantic.check_all(objs, plan)


def test_env_references_in_gateway_config_stay_references(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["gateway"]["storage"] = {"url": "${PRAI_GATEWAY_DB_URL}"}

    result = render(kitchen(edit=edit), crd_dir=crd_dir,
                    env={"PRAI_GATEWAY_DB_URL": "postgresql://u:pw@db.kitchen.internal/prai"})
    text = result.files["prai-gateway/configmap-prai-gateway-config.yaml"]
    assert "${PRAI_GATEWAY_DB_URL}" in text and "pw@" not in text
    assert result.summary["gateway_env"] == ["PRAI_GATEWAY_DB_URL"]
    assert "PRAI_GATEWAY_DB_URL" in result.files["README.md"]


def test_ca_bundle_problems(kitchen, crd_dir: Path, tmp_path: Path) -> None:
    from prai.deploy.renderer import read_ca_bundle

    ca = EXAMPLES / "cluster/ca/internal-ca.pem"
    with pytest.raises(CaBundleError, match="expired on 2046-01-01"):
        read_ca_bundle(ca, now=dt.datetime(2050, 1, 1, tzinfo=dt.UTC))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(CaBundleError, match="not a PEM"):
        read_ca_bundle(bad)
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(_leaf_cert())
    with pytest.raises(CaBundleError, match="is not a CA certificate"):
        read_ca_bundle(leaf)

    def edit(doc: dict[str, Any]) -> None:
        doc["cluster"]["ca_bundle"] = "cluster/ca/missing.pem"

    with pytest.raises(CaBundleError, match=r"missing\.pem: CA bundle not found") as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    assert "never disable TLS verification" in ei.value.hint


def _leaf_cert() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minio.kitchen.internal")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_model_facts_missing(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["local_dir"] = "cluster/nowhere"

    with pytest.raises(ModelFactsError, match="nowhere: model directory not found") as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    assert ei.value.exit_code == 31
    p = kitchen()
    (p.parent / "cluster/adapters/legal/adapter_config.json").write_text('{"r": "sixteen"}')
    with pytest.raises(ModelFactsError, match=r"'r' .* not a positive integer"):
        render(p, crd_dir=crd_dir, env={})


def test_config_errors_name_the_field(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["namespace"] = "not-listed"
        model0(doc)["vllm"]["max_lora_rank"] = 48
        doc["cluster"]["gateway"]["tls"] = "passthrough"

    with pytest.raises(ConfigError) as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    msg = str(ei.value)
    assert "cluster.models[0].vllm.max_lora_rank" in msg
    assert "cluster.gateway.tls" in msg


def test_pvc_size_smaller_than_the_model(kitchen, crd_dir: Path) -> None:
    def edit(doc: dict[str, Any]) -> None:
        model0(doc)["storage"]["pvc"]["size"] = "10Gi"

    with pytest.raises(DeployError, match="smaller than the model and adapters"):
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
