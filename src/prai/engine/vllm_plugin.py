"""vLLM general plugin (entry point ``vllm.general_plugins``): a fix for vLLM's CPU LoRA path.

vLLM 0.32's CPU build computes LoRA with plain torch ops
(``vllm/lora/ops/torch_ops/lora_ops.py``): ``lora_b_weights[lora_indices_tensor]``. A
token that uses no adapter carries index -1, which Python indexing turns into the *last*
adapter slot; the CPU punica wrapper skips LoRA only when the whole batch has none. So a
base-model request batched with adapter requests is answered with an adapter applied
(in a multi-tenant kitchen: another tenant's adapter). vLLM's GPU kernels skip index -1.

This plugin gives the CPU ops the GPU semantics: rows whose index is -1 are left as they
were before the op. It is active only in engines started by `prai serve` (PRAI_SERVE_CONTEXT
set) on the CPU build, so bare vLLM in the same environment stays unchanged.
``tests/engine/test_serve.py::test_mixed_batches_keep_the_base_model`` fails without it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

_PATCHED = "_prai_no_lora_rows_skipped"
log = logging.getLogger("prai.engine")


def skip_no_lora_rows(op: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a ``bgmv_*`` op ``(inputs, weights, output_tensor, lora_indices, ...)`` so that
    output rows of tokens with LoRA index -1 are restored after the op (GPU semantics)."""

    @functools.wraps(op)
    def wrapped(inputs: Any, weights: Any, output_tensor: Any, lora_indices: Any, *args: Any, **kwargs: Any) -> Any:
        no_lora = lora_indices < 0
        if not bool(no_lora.any()):
            return op(inputs, weights, output_tensor, lora_indices, *args, **kwargs)
        rows = no_lora.nonzero()[:, 0]
        rows = rows[rows < output_tensor.shape[0]]
        saved = output_tensor[rows].clone()
        result = op(inputs, weights, output_tensor, lora_indices.clamp(min=0), *args, **kwargs)
        output_tensor[rows] = saved
        return result

    setattr(wrapped, _PATCHED, True)
    return wrapped


def patch_cpu_lora_ops() -> bool:
    """Patch the three ``bgmv_*`` ops where vLLM's CPU LoRA path looks them up.

    Returns:
        True when patched now or before; False when this vLLM has no such ops.
    """
    import importlib

    try:
        ops = importlib.import_module("vllm.lora.ops.torch_ops.lora_ops")
        package = importlib.import_module("vllm.lora.ops.torch_ops")
        cpu = importlib.import_module("vllm.lora.punica_wrapper.punica_cpu")
    except ImportError:
        return False
    for name in ("bgmv_expand", "bgmv_shrink", "bgmv_expand_slice"):
        original = getattr(ops, name, None)
        if original is None:
            return False
        fixed = original if getattr(original, _PATCHED, False) else skip_no_lora_rows(original)
        for module in (ops, package, cpu):
            if hasattr(module, name):
                setattr(module, name, fixed)
    return True


def register() -> None:
    """vLLM calls this in every process it starts (API server, engine core, workers)."""
    from prai.engine.engine_support import installed_engine
    from prai.settings import get_settings

    engine = installed_engine()
    if get_settings().serve_context and engine is not None and engine.is_cpu and patch_cpu_lora_ops():
        log.info("prai: CPU LoRA ops patched to skip tokens without an adapter (index -1)")
