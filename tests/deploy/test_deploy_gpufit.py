"""GPU fit: the numbers, against published parameter counts and hand-computed KV sizes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from prai.deploy import check_gpu_fit
from prai.deploy.gpufit import GIB, estimate_parameters
from prai.errors import ModelFactsError
from tests.deploy._deploy_util import EXAMPLES

LLAMA2_7B = json.loads((EXAMPLES / "cluster/model/config.json").read_text())
LLAMA31_70B = json.loads((EXAMPLES / "cluster/model-70b/config.json").read_text())


def test_parameter_estimate_matches_published_counts() -> None:
    # Llama-2-7B: 6,738,415,616 parameters; Llama-3.1-70B: 70,553,706,496 (model cards).
    assert estimate_parameters(LLAMA2_7B) == 6_738_415_616
    assert estimate_parameters(LLAMA31_70B) == 70_553_706_496


def test_kv_cache_and_need_by_hand() -> None:
    fit = check_gpu_fit(LLAMA2_7B, max_model_len=4096, max_num_seqs=16,
                        gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9,
                        weight_bytes=13_476_839_424)
    # 2 (K,V) x 32 layers x 32 KV heads x 128 head dim x 2 bytes (bfloat16)
    assert fit.kv_bytes_per_token == 524_288
    assert fit.kv_cache_bytes == 524_288 * 4096 * 16 == 32 * GIB
    assert fit.weight_bytes == 13_476_839_424
    assert fit.need_bytes == 13_476_839_424 + 32 * GIB + 2 * GIB
    assert fit.budget_bytes == int(80 * GIB * 0.9)
    assert fit.fits and fit.weights_source == "safetensors"


def test_largest_fitting_length_is_exact() -> None:
    kw = dict(max_num_seqs=16, gpu_memory_bytes=24 * GIB, gpu_memory_utilization=0.9,
              weight_bytes=13_476_839_424)
    bad = check_gpu_fit(LLAMA2_7B, max_model_len=8192, **kw)  # type: ignore[arg-type]
    assert not bad.fits
    best = bad.max_model_len_fit
    assert best > 0 and best % 16 == 0
    assert check_gpu_fit(LLAMA2_7B, max_model_len=best, **kw).fits  # type: ignore[arg-type]
    assert not check_gpu_fit(LLAMA2_7B, max_model_len=best + 16, **kw).fits  # type: ignore[arg-type]


def test_weights_that_do_not_fit_leave_no_length() -> None:
    fit = check_gpu_fit(LLAMA31_70B, max_model_len=1024, max_num_seqs=1,
                        gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9)
    assert not fit.fits and fit.max_model_len_fit == 0
    assert fit.weights_source == "config.json"


def test_tensor_parallel_splits_weights_and_kv_heads() -> None:
    one = check_gpu_fit(LLAMA31_70B, max_model_len=8192, max_num_seqs=8,
                        gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9)
    four = check_gpu_fit(LLAMA31_70B, max_model_len=8192, max_num_seqs=8,
                         gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9,
                         tensor_parallel_size=4)
    assert four.weight_bytes == -(-one.weight_bytes // 4)
    assert four.kv_bytes_per_token * 4 == one.kv_bytes_per_token  # 8 KV heads / 4 GPUs
    # 16 GPUs > 8 KV heads: vLLM replicates KV heads, one per GPU
    sixteen = check_gpu_fit(LLAMA31_70B, max_model_len=8192, max_num_seqs=8,
                            gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9,
                            tensor_parallel_size=16)
    assert sixteen.kv_bytes_per_token == 2 * 80 * 1 * 128 * 2


def test_fp8_kv_cache_and_lora_slots() -> None:
    base = check_gpu_fit(LLAMA2_7B, max_model_len=4096, max_num_seqs=4,
                         gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9)
    fp8 = check_gpu_fit(LLAMA2_7B, max_model_len=4096, max_num_seqs=4,
                        gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9,
                        kv_cache_dtype="fp8")
    assert fp8.kv_bytes_per_token * 2 == base.kv_bytes_per_token
    lora = check_gpu_fit(LLAMA2_7B, max_model_len=4096, max_num_seqs=4,
                         gpu_memory_bytes=80 * GIB, gpu_memory_utilization=0.9,
                         max_loras=2, max_lora_rank=16)
    h, i = 4096, 11008
    per_layer = (h + h) + 2 * (h + h) + (h + h) + 3 * (h + i)
    assert lora.lora_bytes == 2 * 16 * 32 * per_layer * 2
    assert lora.need_bytes == base.need_bytes + lora.lora_bytes


def test_nested_text_config_and_missing_fields() -> None:
    nested = {"architectures": ["LlavaForConditionalGeneration"], "text_config": LLAMA2_7B}
    assert estimate_parameters(nested) == estimate_parameters(LLAMA2_7B)
    with pytest.raises(ModelFactsError, match="num_hidden_layers"):
        check_gpu_fit({"hidden_size": 8, "vocab_size": 10, "num_attention_heads": 2},
                      max_model_len=16, max_num_seqs=1, gpu_memory_bytes=GIB,
                      gpu_memory_utilization=0.9)


def test_render_refuses_and_states_the_largest_length(kitchen, crd_dir: Path) -> None:
    from prai.deploy import render
    from prai.errors import GpuDoesNotFit

    def edit(doc: dict) -> None:
        doc["cluster"]["models"][0]["vllm"]["max_model_len"] = 32768

    with pytest.raises(GpuDoesNotFit) as ei:
        render(kitchen(edit=edit), crd_dir=crd_dir, env={})
    msg = str(ei.value)
    assert "largest max_model_len that fits is 7264 tokens" in msg
    assert "32768" in msg and "available 72.00 GiB" in msg
    assert ei.value.exit_code == 27 and "max_model_len" in ei.value.hint
