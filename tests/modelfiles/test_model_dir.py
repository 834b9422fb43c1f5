"""The model-directory check (prai.modelfiles.model_dir): each failure is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prai.errors import ModelError, ModelNotLocal
from prai.modelfiles.model_dir import check_model_dir, inspect_model_dir


def test_complete_model_passes(tiny_model: Path) -> None:
    facts = inspect_model_dir(str(tiny_model))
    assert facts.architectures == ["LlamaForCausalLM"]
    assert facts.head_dim == 64
    assert facts.linear_shapes["model.layers.0.self_attn.q_proj"] == (128, 128)
    assert facts.warnings == []


def test_repo_id_is_refused() -> None:
    with pytest.raises(ModelNotLocal, match="hub repo id"):
        inspect_model_dir("tsuzumi/tsuzumi-7b")


def test_missing_shard_is_named(tiny_model: Path) -> None:
    (tiny_model / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(ModelError, match=r"1 of 2 weight shards .* missing: model-00002-of-00002"):
        inspect_model_dir(str(tiny_model))


def test_truncated_shard_is_detected(tiny_model: Path) -> None:
    shard = tiny_model / "model-00001-of-00002.safetensors"
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(ModelError, match="truncated"):
        inspect_model_dir(str(tiny_model))


def test_missing_config_and_tokenizer(tiny_model: Path) -> None:
    (tiny_model / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer files"):
        inspect_model_dir(str(tiny_model))
    (tiny_model / "config.json").unlink()
    with pytest.raises(ModelError, match=r"config\.json is missing"):
        inspect_model_dir(str(tiny_model))


def test_missing_chat_template_is_a_warning(tiny_model: Path) -> None:
    (tiny_model / "tokenizer_config.json").write_text("{}")
    facts = inspect_model_dir(str(tiny_model))
    assert any("no chat template" in w for w in facts.warnings)
    assert inspect_model_dir(str(tiny_model), need_chat_template=False).warnings == []


def test_index_naming_files_outside_the_model_is_refused(tiny_model: Path) -> None:
    index = tiny_model / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    first = next(iter(data["weight_map"]))
    data["weight_map"][first] = "../../../../etc/passwd"
    index.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="outside the model directory"):
        inspect_model_dir(str(tiny_model))
    report = check_model_dir(tiny_model)
    assert not report.ok
    assert any("outside the model directory" in p for p in report.problems)


def test_empty_tokenizer_file_is_refused(tiny_model: Path) -> None:
    (tiny_model / "tokenizer.json").write_text("")
    with pytest.raises(ModelError, match=r"tokenizer\.json is empty"):
        inspect_model_dir(str(tiny_model))
