"""model and lora on real model directories: missing shard, unreadable file (a real read
test as the serving UID when run as root), manifest mismatch, GPU fit, adapter rank."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from prai.bundle import create_bundle
from prai.doctor import build_plan, run_doctor
from tests.bundle.bundle_fixtures import build_adapter
from tests.doctor.doctor_util import checks, cluster_kitchen


def _run(areas: list[str], **kw):  # type: ignore[no-untyped-def]
    kitchen = kw.pop("kitchen", None)
    return run_doctor(build_plan(kitchen, env={}, **kw), areas)


def test_complete_model_passes(model_dir: Path) -> None:
    c = checks(_run(["model"], model=model_dir), "model")
    assert c["tiny-llama present"].status == "PASS"
    assert c["tiny-llama complete"].status == "PASS"
    assert c["tiny-llama readable"].status == "PASS"
    assert c["tiny-llama free space"].status == "PASS"


def test_missing_directory(tmp_path: Path) -> None:
    c = checks(_run(["model"], model=tmp_path / "mnt" / "models"), "model")
    assert c["models present"].status == "FAIL"
    assert "ls -lah /mnt/models" in c["models present"].remediation


def test_missing_shard(model_dir: Path) -> None:
    (model_dir / "model-00002-of-00002.safetensors").unlink()
    c = checks(_run(["model"], model=model_dir), "model")
    assert c["tiny-llama complete"].status == "FAIL"
    assert "model-00002-of-00002.safetensors is missing" in c["tiny-llama complete"].evidence
    assert "持ち込み" in c["tiny-llama complete"].remediation


def test_missing_chat_template_and_tokenizer(model_dir: Path) -> None:
    (model_dir / "chat_template.jinja").unlink()
    (model_dir / "tokenizer.json").unlink()
    ev = checks(_run(["model"], model=model_dir), "model")["tiny-llama complete"]
    assert ev.status == "FAIL"
    assert "no tokenizer" in ev.evidence and "no chat template" in ev.evidence


@pytest.mark.skipif(os.geteuid() != 0, reason="the real read test as another UID needs root")
def test_unreadable_file_for_the_serving_uid(model_dir: Path) -> None:
    shard = model_dir / "model-00001-of-00002.safetensors"
    os.chmod(shard, 0o600)  # root can read it; UID 1000680000 in group 0 cannot
    c = checks(_run(["model"], model=model_dir), "model")["tiny-llama readable"]
    assert c.status == "FAIL"
    assert "model-00001-of-00002.safetensors" in c.evidence
    assert "chmod -R g+rX" in c.remediation and "group 0" in c.remediation


def test_files_against_the_bundle_manifest(tmp_path: Path, model_dir: Path) -> None:
    bundle = tmp_path / "bundle"
    create_bundle(bundle, model=model_dir)
    kitchen = cluster_kitchen(tmp_path / "kitchen.yaml", model_dir=model_dir, bundle=bundle)
    c = checks(_run(["model"], kitchen=kitchen), "model")
    assert c["tiny manifest"].status == "PASS"
    cfg = model_dir / "config.json"
    text = cfg.read_text()
    cfg.write_text(text.replace("llama", "LLAMA"))  # same size, other bytes
    assert checks(_run(["model"], kitchen=kitchen), "model")["tiny manifest"].status == "PASS"
    deep = checks(_run(["model"], kitchen=kitchen, deep=True), "model")["tiny manifest"]
    assert deep.status == "FAIL" and "config.json is corrupted" in deep.evidence
    (model_dir / "tokenizer.json").unlink()
    c = checks(_run(["model"], kitchen=kitchen), "model")["tiny manifest"]
    assert c.status == "FAIL" and "tokenizer.json is missing" in c.evidence
    assert "prai bundle load" in c.remediation


def test_gpu_fit(tmp_path: Path, model_dir: Path, adapter_dirs: dict[str, Path]) -> None:
    ok = cluster_kitchen(tmp_path / "ok.yaml", model_dir=model_dir, memory_gib=80,
                         adapters=adapter_dirs)
    fit = checks(_run(["model"], kitchen=ok), "model")["tiny gpu fit"]
    assert fit.status == "PASS"
    assert fit.data["lora_bytes"] > 0 and fit.data["weights_source"] == "safetensors"
    small = cluster_kitchen(tmp_path / "small.yaml", model_dir=model_dir, memory_gib=0.5)
    c = checks(_run(["model"], kitchen=small), "model")["tiny gpu fit"]
    assert c.status == "FAIL"
    assert "per GPU; available" in c.evidence
    assert "GPUs" in c.remediation


def test_adapters_fit(model_dir: Path, adapter_dirs: dict[str, Path]) -> None:
    c = checks(_run(["lora"], model=model_dir, served_model_name="tiny-llama",
                    adapters=[f"{n}={p}" for n, p in adapter_dirs.items()]), "lora")
    assert c["tiny-llama/faq"].status == "PASS"
    assert c["tiny-llama/legal"].status == "PASS"
    assert "rank 16 <= max_lora_rank 16" in c["tiny-llama/legal"].evidence


def test_adapter_rank_too_high(tmp_path: Path, model_dir: Path, adapter_dirs: dict[str, Path]) -> None:
    kitchen = cluster_kitchen(tmp_path / "k.yaml", model_dir=model_dir, adapters=adapter_dirs,
                              vllm={"max_lora_rank": 8})
    c = checks(_run(["lora"], kitchen=kitchen), "lora")
    assert c["tiny/faq"].status == "PASS"
    assert c["tiny/legal"].status == "FAIL"
    assert "LoRA rank 16 is greater than max_lora_rank 8" in c["tiny/legal"].evidence
    assert "--max-lora-rank 16" in c["tiny/legal"].remediation


def test_adapter_for_another_model(tmp_path: Path, model_dir: Path) -> None:
    wrong = build_adapter(tmp_path / "wrong", targets=("q_proj",), in_dim=32)
    other = build_adapter(tmp_path / "other", base="meta-llama/Llama-3-8B")
    c = checks(_run(["lora"], model=model_dir, adapters=[f"wrong={wrong}", f"other={other}"]),
               "lora")
    assert c["tiny-llama/wrong"].status == "FAIL"
    assert "shape" in c["tiny-llama/wrong"].evidence
    assert c["tiny-llama/other"].status == "PASS"
    assert c["tiny-llama/other base"].status == "WARN"
    assert "meta-llama/Llama-3-8B" in c["tiny-llama/other base"].evidence
    assert "aliases" in c["tiny-llama/other base"].remediation


def test_adapter_target_module_missing(tmp_path: Path, model_dir: Path) -> None:
    a = build_adapter(tmp_path / "a", targets=("q_proj",))
    cfg = json.loads((a / "adapter_config.json").read_text())
    cfg["target_modules"] = ["query_key_value"]
    (a / "adapter_config.json").write_text(json.dumps(cfg))
    c = checks(_run(["lora"], model=model_dir, adapters=[f"a={a}"]), "lora")["tiny-llama/a"]
    assert c.status == "FAIL" and "query_key_value" in c.evidence


def test_a_model_under_a_cache_folder_is_checked_file_by_file(tmp_path: Path, model_dir: Path) -> None:
    """A model kept under ~/.cache (the demo's store, a Hugging Face cache) is checked like
    any other: every file counted and read-tested; only a `.cache` folder inside the model
    directory (hf download metadata) is left out."""
    import shutil

    cached = tmp_path / "home" / ".cache" / "prai" / "store" / "tiny-llama"
    shutil.copytree(model_dir, cached)
    (cached / ".cache" / "huggingface").mkdir(parents=True)
    (cached / ".cache" / "huggingface" / "download.metadata").write_text("not part of the model")
    expected = len([p for p in model_dir.rglob("*") if p.is_file()])
    c = checks(_run(["model"], model=cached), "model")
    assert c["tiny-llama present"].status == "PASS"
    assert c["tiny-llama present"].data["files"] == expected > 0
    assert f"can read all {expected} files" in c["tiny-llama readable"].evidence
    (cached / "config.json").chmod(0o000)  # the read test (as the serving UID) now fails
    c = checks(_run(["model"], model=cached), "model")
    assert c["tiny-llama readable"].status == "FAIL" and "config.json" in c["tiny-llama readable"].evidence
