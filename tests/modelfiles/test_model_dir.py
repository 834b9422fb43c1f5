"""The model-directory check (prai.modelfiles.model_dir): each failure is one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prai.errors import AdapterError, ModelError, ModelNotLocal
from prai.modelfiles.adapter import inspect_adapter
from prai.modelfiles.model_dir import (
    check_model_dir,
    inspect_model_dir,
    inspect_tokenizer_dir,
    looks_like_remote,
    resolve_model_dir,
)
from tests._support.model_dirs import write_adapter


def test_complete_model_passes(tiny_model: Path) -> None:
    facts = inspect_model_dir(str(tiny_model))
    assert facts.architectures == ["LlamaForCausalLM"]
    assert facts.head_dim == 64
    assert facts.linear_shapes["model.layers.0.self_attn.q_proj"] == (128, 128)
    assert facts.warnings == []


def test_repo_id_is_refused() -> None:
    """A hub repo id gets the answer every command gives a missing directory, with a hint
    that nothing is downloaded (issue 18: one answer for `org/name`, whatever the command)."""
    with pytest.raises(ModelNotLocal, match=r"tsuzumi/tsuzumi-7b \(relative to .*\): no such directory; "
                                            r"tsuzumi does not exist either") as exc:
        inspect_model_dir("tsuzumi/tsuzumi-7b")
    assert "is a hub repo id: nothing is downloaded in a closed network" in exc.value.hint
    with pytest.raises(ModelNotLocal, match=r"https://hf.co/x/y: is a URL, not a local directory"):
        inspect_model_dir("https://hf.co/x/y")


def test_relative_paths_follow_the_serve_rule(tiny_model: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A relative path is a local directory, never a hub repo id, when it exists or its
    first folder does (a typo under it is "no such directory", relative to the current
    directory); only a ref whose first folder is absent here is taken for a hub repo id."""
    here = tmp_path / "elsewhere"
    (here / "store").mkdir(parents=True)
    tiny_model.rename(here / "store" / "model")
    write_adapter(here / "store", "lora")
    monkeypatch.chdir(here)

    assert resolve_model_dir("store/model") == here / "store" / "model"
    assert inspect_model_dir("store/model").path == here / "store" / "model"
    assert inspect_tokenizer_dir("store/model") == here / "store" / "model"
    facts = inspect_model_dir("store/model")
    assert inspect_adapter("a", "store/adapters/lora", facts).path == here / "store" / "adapters" / "lora"
    assert not looks_like_remote("store/model") and not looks_like_remote("store/modle")

    typo = f"store/modle (relative to {here}): no such directory"
    for call in (lambda: resolve_model_dir("store/modle"), lambda: inspect_model_dir("store/modle"),
                 lambda: inspect_tokenizer_dir("store/modle")):
        with pytest.raises(ModelError) as exc:
            call()
        assert not isinstance(exc.value, ModelNotLocal)
        assert typo in exc.value.message and "hub" not in exc.value.message
        assert "typos" in exc.value.hint
    with pytest.raises(AdapterError, match=r"store/lroa \(relative to .*\): no such directory"):
        inspect_adapter("a", "store/lroa", facts)

    assert looks_like_remote("tsuzumi/tsuzumi-7b")
    with pytest.raises(ModelNotLocal, match="no such directory; tsuzumi does not exist either") as exc:
        resolve_model_dir("tsuzumi/tsuzumi-7b")
    assert "hub repo id" in exc.value.hint
    with pytest.raises(ModelError, match=r"/nowhere/model: no such directory"):
        resolve_model_dir("/nowhere/model")


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
