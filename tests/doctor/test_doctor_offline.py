"""offline and images: runtime variables, hub references, a live tokenizer load with the
network blocked, and image references (internal + digest-pinned)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prai.doctor import build_plan, run_doctor
from tests.doctor.doctor_util import checks, cluster_kitchen, write_kitchen


def test_hub_reference_in_tokenizer_config_fails(model_dir: Path) -> None:
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    cfg["auto_map"] = {"AutoTokenizer": ["org/other-repo--tokenization_x.XTokenizer", None]}
    (model_dir / "tokenizer_config.json").write_text(json.dumps(cfg))
    c = checks(run_doctor(build_plan(None, env={}, model=model_dir), ["offline"]), "offline")
    assert c["tiny-llama --model"].status == "PASS"
    hub = c["tiny-llama hub refs"]
    assert hub.status == "FAIL"
    assert "org/other-repo--tokenization_x.XTokenizer" in hub.evidence


def test_pod_environment_without_offline_variables(model_dir: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "172.30.0.1", "TRANSFORMERS_OFFLINE": "1"}
    c = checks(run_doctor(build_plan(None, env=env, model=model_dir), ["offline"]), "offline")
    assert c["pod env"].status == "FAIL"
    assert "HF_HUB_OFFLINE" in c["pod env"].evidence and "HF_DATASETS_OFFLINE" in c["pod env"].evidence
    assert "TRANSFORMERS_OFFLINE" not in c["pod env"].evidence
    env |= {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": "/mnt/cache"}
    c = checks(run_doctor(build_plan(None, env=env, model=model_dir), ["offline"]), "offline")
    assert c["pod env"].status == "PASS" and "pod HF_HOME" not in c


def test_prai_up_engine_with_hub_tokenizer(tmp_path: Path, model_dir: Path) -> None:
    kitchen = write_kitchen(tmp_path / "kitchen.yaml", {"gateway": {"upstreams": [{
        "name": "local", "base_urls": ["http://127.0.0.1:8000"],
        "serve": {"model": str(model_dir), "served_model_name": "tiny",
                  "args": ["--tokenizer", "meta-llama/Llama-3-8B"]}}]}})
    c = checks(run_doctor(build_plan(kitchen, env={}), ["offline"]), "offline")
    assert c["prai serve env"].status == "PASS"
    assert c["tiny args"].status == "FAIL"
    assert "--tokenizer meta-llama/Llama-3-8B" in c["tiny args"].evidence


def test_rendered_serving_runtime_carries_offline_variables(tmp_path: Path, model_dir: Path) -> None:
    kitchen = cluster_kitchen(tmp_path / "kitchen.yaml", model_dir=model_dir)
    c = checks(run_doctor(build_plan(kitchen, env={}), ["offline"]), "offline")
    runtime = [v for k, v in c.items() if k.startswith("runtime ")]
    assert runtime and all(r.status == "PASS" for r in runtime), c
    assert "HF_HUB_OFFLINE=1" in runtime[0].evidence


@pytest.mark.slow
def test_live_tokenizer_load_with_network_blocked(model_dir: Path) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({f"t{i}": i for i in range(256)}, unk_token="t0"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.save(str(model_dir / "tokenizer.json"))  # a complete tokenizer.json, as tokenizers writes it
    c = checks(run_doctor(build_plan(None, env={}, model=model_dir, live=True), ["offline"]), "offline")
    assert c["tiny-llama live tokenizer"].status == "PASS", c["tiny-llama live tokenizer"]
    assert "network blocked" in c["tiny-llama live tokenizer"].evidence
    (model_dir / "tokenizer.json").unlink()
    c = checks(run_doctor(build_plan(None, env={}, model=model_dir, live=True), ["offline"]), "offline")
    assert c["tiny-llama live tokenizer"].status == "FAIL"
    assert "copy the missing tokenizer files" in c["tiny-llama live tokenizer"].remediation


def test_images_internal_and_pinned(tmp_path: Path, model_dir: Path) -> None:
    kitchen = cluster_kitchen(tmp_path / "kitchen.yaml", model_dir=model_dir)
    c = checks(run_doctor(build_plan(kitchen, env={}), ["images"]), "images")
    assert c["vllm"].status == "PASS" and c["prai"].status == "PASS"
    ext = cluster_kitchen(tmp_path / "ext.yaml", model_dir=model_dir, vllm_mirror="quay.io/modh/vllm")
    c = checks(run_doctor(build_plan(ext, env={}), ["images"]), "images")
    assert c["vllm"].status == "FAIL"
    assert "outside the closed network" in c["vllm"].evidence
    assert "mirror it into registry.kitchen.internal:5000" in c["vllm"].remediation
