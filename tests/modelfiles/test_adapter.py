"""The adapter check (prai.modelfiles.adapter): fit to the base model and vLLM's limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prai.errors import AdapterError
from prai.modelfiles.adapter import inspect_adapter
from prai.modelfiles.model_dir import inspect_model_dir


def test_adapter_fits(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    facts = inspect_adapter("faq", str(make_adapter("faq", rank=8)), inspect_model_dir(str(tiny_model)))
    assert facts.rank == 8 and facts.target_modules == ["q_proj", "v_proj"]


def test_adapter_missing_target_module(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    path = make_adapter("bad", targets=("q_proj", "nope_proj"))
    with pytest.raises(AdapterError, match="target modules nope_proj do not exist"):
        inspect_adapter("bad", str(path), inspect_model_dir(str(tiny_model)))


def test_adapter_shape_mismatch(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    path = make_adapter("big", in_features=4096)
    with pytest.raises(AdapterError, match=r"shape \[8, 4096\].*needs \[8, 128\]"):
        inspect_adapter("big", str(path), inspect_model_dir(str(tiny_model)))


def test_adapter_over_rank(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    path = make_adapter("r64", rank=64)
    with pytest.raises(AdapterError, match="LoRA rank 64 is greater than max_lora_rank 16") as exc:
        inspect_adapter("r64", str(path), inspect_model_dir(str(tiny_model)), max_lora_rank=16)
    assert "--max-lora-rank 64" in exc.value.hint


def test_adapter_base_name_differs_is_a_warning(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    path = make_adapter("other", base="/home/trainer/models/llama-x")
    facts = inspect_adapter("other", str(path), inspect_model_dir(str(tiny_model)), served_model_name="tiny")
    assert any("records base model" in w for w in facts.warnings)


def test_adapter_config_rank_disagrees_with_its_tensors(tiny_model: Path, make_adapter) -> None:  # type: ignore[no-untyped-def]
    path = make_adapter("r8", rank=8)
    cfg = json.loads((path / "adapter_config.json").read_text())
    cfg["r"] = 16
    (path / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(AdapterError, match=r"says r=16 but .* has rank 8"):
        inspect_adapter("r8", str(path), inspect_model_dir(str(tiny_model)))


def test_adapter_path_that_is_a_file(tiny_model: Path, tmp_path: Path) -> None:
    f = tmp_path / "adapter.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(AdapterError, match="is a file"):
        inspect_adapter("f", str(f), inspect_model_dir(str(tiny_model)))
