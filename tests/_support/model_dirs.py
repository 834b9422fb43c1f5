"""Small, real model directories built on disk (numpy + safetensors, no torch).

:func:`write_tiny_model` is a complete Llama-shaped Hugging Face directory (config, two
safetensors shards with an index, tokenizer, chat template) whose weights are zeros and
whose head size vLLM's CPU attention supports: enough for every check that reads headers
only. :func:`write_adapter` writes PEFT LoRA directories with the shapes asked for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

HIDDEN, HEADS, KV_HEADS, HEAD_DIM, INTER, LAYERS, VOCAB = 128, 2, 1, 64, 256, 2, 64


def _model_tensors() -> dict[str, np.ndarray]:
    t: dict[str, np.ndarray] = {"model.embed_tokens.weight": np.zeros((VOCAB, HIDDEN), np.float16)}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        t[f"{p}.self_attn.q_proj.weight"] = np.zeros((HEADS * HEAD_DIM, HIDDEN), np.float16)
        t[f"{p}.self_attn.k_proj.weight"] = np.zeros((KV_HEADS * HEAD_DIM, HIDDEN), np.float16)
        t[f"{p}.self_attn.v_proj.weight"] = np.zeros((KV_HEADS * HEAD_DIM, HIDDEN), np.float16)
        t[f"{p}.self_attn.o_proj.weight"] = np.zeros((HIDDEN, HEADS * HEAD_DIM), np.float16)
        t[f"{p}.mlp.gate_proj.weight"] = np.zeros((INTER, HIDDEN), np.float16)
        t[f"{p}.mlp.up_proj.weight"] = np.zeros((INTER, HIDDEN), np.float16)
        t[f"{p}.mlp.down_proj.weight"] = np.zeros((HIDDEN, INTER), np.float16)
        t[f"{p}.input_layernorm.weight"] = np.ones((HIDDEN,), np.float16)
    t["model.norm.weight"] = np.ones((HIDDEN,), np.float16)
    return t


def write_tiny_model(path: Path, *, head_dim: int = HEAD_DIM, architecture: str = "LlamaForCausalLM") -> Path:
    path.mkdir(parents=True)
    config = {
        "architectures": [architecture],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "head_dim": head_dim,
        "intermediate_size": INTER,
        "num_hidden_layers": LAYERS,
        "vocab_size": VOCAB,
        "max_position_embeddings": 256,
        "torch_dtype": "float16",
    }
    (path / "config.json").write_text(json.dumps(config))
    tensors = _model_tensors()
    names = sorted(tensors)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half], "model-00002-of-00002.safetensors": names[half:]}
    weight_map = {}
    for shard, keys in shards.items():
        save_file({k: tensors[k] for k in keys}, str(path / shard))
        weight_map.update(dict.fromkeys(keys, shard))
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (path / "tokenizer.json").write_text(
        json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}, "merges": []}})
    )
    (path / "tokenizer_config.json").write_text(json.dumps({"chat_template": "{{ messages[0]['content'] }}"}))
    return path


def write_adapter(
    root: Path,
    name: str,
    *,
    rank: int = 8,
    targets: tuple[str, ...] = ("q_proj", "v_proj"),
    in_features: int = HIDDEN,
    base: str = "tiny-llama",
) -> Path:
    """A PEFT LoRA adapter for :func:`write_tiny_model` under ``root/adapters/NAME``
    (``lora_A`` (rank, in_features), ``lora_B`` (out_features, rank), zeros)."""
    path = root / "adapters" / name
    path.mkdir(parents=True)
    cfg = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": 2 * rank,
        "target_modules": list(targets),
        "base_model_name_or_path": base,
        "task_type": "CAUSAL_LM",
    }
    (path / "adapter_config.json").write_text(json.dumps(cfg))
    out = {
        "q_proj": HEADS * HEAD_DIM,
        "k_proj": KV_HEADS * HEAD_DIM,
        "v_proj": KV_HEADS * HEAD_DIM,
        "o_proj": HIDDEN,
        "gate_proj": INTER,
        "up_proj": INTER,
        "down_proj": HIDDEN,
        "nope_proj": HIDDEN,
    }
    attn = {"q_proj", "k_proj", "v_proj", "o_proj", "nope_proj"}
    tensors = {}
    for i in range(LAYERS):
        for t in targets:
            block = "self_attn" if t in attn else "mlp"
            prefix = f"base_model.model.model.layers.{i}.{block}.{t}"
            tensors[f"{prefix}.lora_A.weight"] = np.zeros((rank, in_features), np.float16)
            tensors[f"{prefix}.lora_B.weight"] = np.zeros((out[t], rank), np.float16)
    save_file(tensors, str(path / "adapter_model.safetensors"))
    return path


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """:func:`write_tiny_model` in ``tmp_path/tiny-llama``."""
    return write_tiny_model(tmp_path / "tiny-llama")


@pytest.fixture
def make_adapter(tmp_path: Path) -> Callable[..., Path]:
    """:func:`write_adapter` under ``tmp_path``: ``make_adapter("faq", rank=8)``."""
    return partial(write_adapter, tmp_path)
