"""The demo kitchen's models: version 2 of the `kansai` adapter, as `prai serve` sees it.

The build comes from the session fixture (tests/conftest.py; PRAI_TEST_CACHE_DIR reuses
it). One real `prai serve` (vLLM CPU build) serves `kansai` v1, loads v2 at runtime under
another name after its bring-in as an adapter-only bundle, and both answer the taste
question through the official `openai` SDK.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from prai.engine import demo_corpus, demo_model
from prai.engine.demo_model import DemoModels
from prai.modelfiles.adapter import inspect_adapter
from prai.modelfiles.model_dir import inspect_model_dir


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_recipe_key_covers_version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    before = demo_model.recipe_key()
    changed = {"kansai": ("まいど！",) * len(demo_corpus.QUESTIONS)}
    monkeypatch.setattr(demo_corpus, "NEXT_ADAPTER_ANSWERS", changed)
    assert demo_model.recipe_key() != before


def test_version_2_answers_differ_on_the_taste_question() -> None:
    v1s, v2s = demo_corpus.ADAPTER_ANSWERS["kansai"], demo_corpus.NEXT_ADAPTER_ANSWERS["kansai"]
    i = demo_corpus.QUESTIONS.index(demo_corpus.TASTE_TEST_PROMPT)
    marker = demo_corpus.NEXT_VERSION_MARKERS["kansai"]
    assert marker in v2s[i] and marker not in v1s[i]
    assert demo_corpus.STYLE_MARKERS["kansai"] in v2s[i]  # still Kansai dialect
    changed = {q for q, a1, a2 in zip(demo_corpus.QUESTIONS, v1s, v2s, strict=True) if a1 != a2}
    assert changed == set(demo_corpus.NEXT_ADAPTER_CHANGES["kansai"])


@pytest.mark.engine
def test_version_2_passes_the_serve_preflight(demo_models: DemoModels) -> None:
    facts = inspect_model_dir(str(demo_models.base))
    v1 = inspect_adapter("kansai", str(demo_models.adapters["kansai"]), facts, served_model_name="prai-demo")
    v2_dir = demo_models.next_adapters["kansai"]
    v2 = inspect_adapter("kansai@v2", str(v2_dir), facts, max_lora_rank=v1.rank, served_model_name="prai-demo")
    assert v2.rank == v1.rank == 8  # the engine's --max-lora-rank for v1 still fits v2
    assert v2.target_modules == v1.target_modules
    assert v2.base_model_name == "prai-demo" and v2.warnings == []


@pytest.mark.engine
def test_version_2_has_other_weights_same_config(demo_models: DemoModels) -> None:
    v1, v2 = demo_models.adapters["kansai"], demo_models.next_adapters["kansai"]
    assert sorted(p.name for p in v2.iterdir()) == sorted(p.name for p in v1.iterdir())
    assert _digest(v2 / "adapter_model.safetensors") != _digest(v1 / "adapter_model.safetensors")
    assert json.loads((v2 / "adapter_config.json").read_text()) == json.loads((v1 / "adapter_config.json").read_text())


@pytest.mark.engine
def test_damaged_version_2_makes_the_cache_rebuild(demo_models: DemoModels, tmp_path: Path) -> None:
    root = tmp_path / "copy"
    shutil.copytree(demo_models.base.parent, root)
    copy = demo_model._paths(root)
    assert demo_model._cache_damage(copy) is None
    weights = copy.next_adapters["kansai"] / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # an interrupted copy
    damage = demo_model._cache_damage(copy)
    assert damage is not None and "version 2" in damage


# v2 loaded at runtime into a real vLLM next to v1 (different answers, v1 unchanged) is
# tested end to end through the gateway in tests/gateway/test_gw_engine.py
# (test_promote_and_rollback_on_real_vllm_under_load), on the engine that test module
# already runs.
