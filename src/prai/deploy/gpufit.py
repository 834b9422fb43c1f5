"""GPU fit: do the weights plus the KV cache fit in the memory vLLM may use?

Shared by ``prai render`` (refuses a deployment that cannot start) and ``prai doctor``.

Formula (per GPU, bytes), with ``tp`` = tensor_parallel_size:

    budget   = gpu_memory_bytes * gpu_memory_utilization
    weights  = weight_bytes / tp
               (weight_bytes: the safetensors total when known, else the parameter count
               of a decoder-only transformer from config.json times the dtype size)
    kv/token = 2 (K and V) * num_hidden_layers * ceil(num_key_value_heads / tp)
               * head_dim * kv_dtype_bytes
    kv       = kv/token * max_model_len * max_num_seqs
    lora     = max_loras * max_lora_rank * num_hidden_layers * sum(in + out of the
               q, k, v, o, gate, up, down projections) * dtype_bytes / tp
    need     = weights + kv + lora + reserve_bytes      (fits when need <= budget)

Sources: the KV page size in vLLM's ``vllm/v1/kv_cache_interface.py``
(``AttentionSpec.page_size_bytes = 2 * block_size * num_kv_heads * head_size *
dtype_size`` per layer; KV heads are split across tensor-parallel ranks and replicated
when fewer than ``tp``); vLLM's start-up check "max seq len ... is larger than the
maximum number of tokens that can be stored in KV cache" (``vllm/v1/core/kv_cache_utils.py``);
LoRA slots preallocated for every supported linear layer (``vllm/lora/layers``: A is
``max_loras x rank x in``, B is ``max_loras x out x rank``). ``reserve_bytes`` stands for
activations, CUDA graphs and the CUDA context, which vLLM measures at start-up; the
default (2 GiB) is an estimate, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from prai.errors import ModelFactsError

GIB = 1024**3
DEFAULT_RESERVE_BYTES = 2 * GIB
BLOCK_TOKENS = 16  # vLLM's default KV block size (tokens); the fitting length is rounded to it

_DTYPE_BYTES = {
    "float16": 2, "half": 2, "bfloat16": 2, "float32": 4, "float": 4,
    "fp8": 1, "float8_e4m3fn": 1, "float8_e5m2": 1,
}


@dataclass(frozen=True)
class GpuFit:
    """Result of :func:`check_gpu_fit`; every size in bytes, per GPU.

    Attributes:
        fits: need_bytes <= budget_bytes.
        budget_bytes: gpu_memory_bytes * gpu_memory_utilization.
        weight_bytes: this GPU's share of the weights.
        kv_bytes_per_token: KV cache bytes of one token on this GPU.
        kv_cache_bytes: kv_bytes_per_token * max_model_len * max_num_seqs.
        lora_bytes: preallocated LoRA slots on this GPU (0 without LoRA).
        reserve_bytes: activations, CUDA graphs and context (estimate).
        need_bytes: the sum of the four above.
        max_model_len: the length asked for (tokens).
        max_model_len_fit: the largest max_model_len (tokens, a multiple of 16) that fits
            with the same max_num_seqs; 0 when even the weights do not fit.
        weights_source: "safetensors" (measured) or "config.json" (estimated).
    """

    fits: bool
    budget_bytes: int
    weight_bytes: int
    kv_bytes_per_token: int
    kv_cache_bytes: int
    lora_bytes: int
    reserve_bytes: int
    need_bytes: int
    max_model_len: int
    max_num_seqs: int
    max_model_len_fit: int
    weights_source: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the fields."""
        return asdict(self)

    def explain(self) -> str:
        """One line: what is needed against what is available, in GiB."""

        def g(n: int) -> str:
            return f"{n / GIB:.2f} GiB"

        return (
            f"weights {g(self.weight_bytes)} ({self.weights_source}) + KV cache "
            f"{g(self.kv_cache_bytes)} ({self.max_model_len} tokens x {self.max_num_seqs} seqs) "
            f"+ LoRA {g(self.lora_bytes)} + reserve {g(self.reserve_bytes)} = "
            f"{g(self.need_bytes)} per GPU; available {g(self.budget_bytes)}"
        )


def text_config(config_json: dict[str, Any]) -> dict[str, Any]:
    """The language-model part of a config.json (``text_config`` of multimodal models)."""
    inner = config_json.get("text_config")
    return inner if isinstance(inner, dict) and "num_hidden_layers" in inner else config_json


def _int(cfg: dict[str, Any], key: str) -> int:
    v = cfg.get(key)
    if not isinstance(v, int) or v <= 0:
        raise ModelFactsError(f"config.json: {key!r} is missing or not a positive integer")
    return v


def model_dtype(config_json: dict[str, Any]) -> str:
    """The weights' dtype named in config.json (``torch_dtype`` or ``dtype``), default float16."""
    cfg = text_config(config_json)
    for key in ("torch_dtype", "dtype"):
        for src in (cfg, config_json):
            v = src.get(key)
            if isinstance(v, str) and v in _DTYPE_BYTES:
                return v
    return "float16"


def dtype_bytes(name: str) -> int:
    """Bytes per element of a dtype name (float16 -> 2)."""
    try:
        return _DTYPE_BYTES[name]
    except KeyError:
        raise ModelFactsError(f"unknown dtype {name!r}") from None


def _dims(cfg: dict[str, Any]) -> tuple[int, int, int, int, int, int, int]:
    hidden = _int(cfg, "hidden_size")
    layers = _int(cfg, "num_hidden_layers")
    heads = _int(cfg, "num_attention_heads")
    kv_heads = cfg.get("num_key_value_heads") or heads
    head_dim = cfg.get("head_dim") or hidden // heads
    inter = cfg.get("intermediate_size") or 4 * hidden
    vocab = _int(cfg, "vocab_size")
    return hidden, layers, heads, int(kv_heads), int(head_dim), int(inter), vocab


def estimate_parameters(config_json: dict[str, Any]) -> int:
    """Parameter count of a decoder-only (Llama-style) transformer from config.json.

    Embedding + untied LM head + per layer (q, k, v, o, gate/up/down MLP, two norms) +
    final norm. Mixture-of-experts MLPs are multiplied by the expert count.
    """
    cfg = text_config(config_json)
    hidden, layers, heads, kv_heads, head_dim, inter, vocab = _dims(cfg)
    experts = int(cfg.get("num_local_experts") or cfg.get("num_experts") or 1)
    attn = hidden * heads * head_dim * 2 + hidden * kv_heads * head_dim * 2
    mlp = 3 * hidden * inter * experts
    per_layer = attn + mlp + 2 * hidden
    embed = vocab * hidden
    head = 0 if cfg.get("tie_word_embeddings", config_json.get("tie_word_embeddings")) else embed
    return embed + head + layers * per_layer + hidden


def check_gpu_fit(
    config_json: dict[str, Any],
    *,
    max_model_len: int,
    max_num_seqs: int,
    gpu_memory_bytes: int,
    gpu_memory_utilization: float,
    dtype: str = "auto",
    tensor_parallel_size: int = 1,
    kv_cache_dtype: str = "auto",
    weight_bytes: int | None = None,
    max_loras: int = 0,
    max_lora_rank: int = 0,
    reserve_bytes: int = DEFAULT_RESERVE_BYTES,
) -> GpuFit:
    """Check that a model fits its GPUs (see the module docstring for the formula).

    Args:
        config_json: the model's parsed config.json.
        max_model_len: tokens per sequence.
        max_num_seqs: sequences the KV cache must hold at full length.
        gpu_memory_bytes: memory of ONE GPU in bytes.
        gpu_memory_utilization: fraction (0, 1] of it vLLM may use.
        dtype: "auto" (config.json's) or a dtype name.
        tensor_parallel_size: GPUs the model is split across.
        kv_cache_dtype: "auto" (= dtype) or "fp8".
        weight_bytes: total weight bytes when known (safetensors); else estimated.
        max_loras / max_lora_rank: LoRA slots (0 = LoRA off).
        reserve_bytes: activations + CUDA graphs + context per GPU.

    Returns:
        GpuFit (``fits`` False when the need exceeds the budget).

    Raises:
        ModelFactsError: config.json lacks the sizes needed (layers, heads, hidden size).
    """
    cfg = text_config(config_json)
    hidden, layers, heads, kv_heads, head_dim, inter, _vocab = _dims(cfg)
    tp = max(1, tensor_parallel_size)
    wdtype = model_dtype(config_json) if dtype == "auto" else dtype
    wbytes = dtype_bytes(wdtype)
    kvbytes = wbytes if kv_cache_dtype == "auto" else dtype_bytes(kv_cache_dtype)
    source = "safetensors"
    if weight_bytes is None:
        weight_bytes = estimate_parameters(config_json) * wbytes
        source = "config.json"
    weights = math.ceil(weight_bytes / tp)
    kv_per_token = 2 * layers * math.ceil(kv_heads / tp) * head_dim * kvbytes
    kv = kv_per_token * max_model_len * max_num_seqs
    lora = 0
    if max_loras > 0 and max_lora_rank > 0:
        q_out, kv_out = heads * head_dim, kv_heads * head_dim
        dims = (hidden + q_out) + 2 * (hidden + kv_out) + (q_out + hidden) + 3 * (hidden + inter)
        lora = math.ceil(max_loras * max_lora_rank * layers * dims * wbytes / tp)
    budget = int(gpu_memory_bytes * gpu_memory_utilization)
    need = weights + kv + lora + reserve_bytes
    room = budget - weights - lora - reserve_bytes
    fit_len = 0
    if room > 0:
        fit_len = room // (kv_per_token * max_num_seqs)
        fit_len -= fit_len % BLOCK_TOKENS
    return GpuFit(
        fits=need <= budget,
        budget_bytes=budget,
        weight_bytes=weights,
        kv_bytes_per_token=kv_per_token,
        kv_cache_bytes=kv,
        lora_bytes=lora,
        reserve_bytes=reserve_bytes,
        need_bytes=need,
        max_model_len=max_model_len,
        max_num_seqs=max_num_seqs,
        max_model_len_fit=int(fit_len),
        weights_source=source,
    )


__all__ = ["DEFAULT_RESERVE_BYTES", "GpuFit", "check_gpu_fit", "estimate_parameters"]
