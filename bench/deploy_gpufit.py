"""Compare prai.deploy.gpufit's KV-cache arithmetic with vLLM's own sizing on a real GPU.

Run on a GPU host with vLLM (CUDA build) installed:

    PYTHONPATH=src python bench/deploy_gpufit.py MODEL_DIR [--util 0.5] [--max-model-len 512]

Prints one JSON line: vLLM's KV cache (blocks x block size = tokens, and bytes), the bytes
per token PrAI's formula predicts, the tokens PrAI predicts with its 2 GiB reserve, and
their ratio. PrAI's check is meant to be conservative: predicted_tokens <= vllm_tokens.
Exits 0 with {"skipped": ...} where vLLM or CUDA is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--util", type=float, default=0.5)
    ap.add_argument("--max-model-len", type=int, default=512)
    ap.add_argument("--max-num-seqs", type=int, default=16)
    a = ap.parse_args()
    try:
        import torch
        import vllm
        if not torch.cuda.is_available():
            raise RuntimeError("CUDA not available")
    except Exception as exc:  # the probe reports why, and stops
        print(json.dumps({"skipped": f"{type(exc).__name__}: {exc}"}))
        return 0
    from prai.deploy.gpufit import check_gpu_fit

    model = Path(a.model)
    cfg = json.loads((model / "config.json").read_text())
    weight_bytes = sum(p.stat().st_size for p in model.glob("*.safetensors"))
    total = torch.cuda.get_device_properties(0).total_memory
    llm = vllm.LLM(model=str(model), max_model_len=a.max_model_len,
                   gpu_memory_utilization=a.util, max_num_seqs=a.max_num_seqs)
    cc = llm.llm_engine.vllm_config.cache_config
    tokens = int(cc.num_gpu_blocks) * int(cc.block_size)
    fit = check_gpu_fit(cfg, max_model_len=a.max_model_len, max_num_seqs=a.max_num_seqs,
                        gpu_memory_bytes=total, gpu_memory_utilization=a.util,
                        weight_bytes=weight_bytes)
    predicted = (fit.budget_bytes - fit.weight_bytes - fit.reserve_bytes) // fit.kv_bytes_per_token
    print(json.dumps({
        "gpu": torch.cuda.get_device_name(0), "gpu_memory_bytes": total,
        "vllm": vllm.__version__, "util": a.util,
        "vllm_kv_blocks": int(cc.num_gpu_blocks), "block_size": int(cc.block_size),
        "vllm_tokens": tokens, "prai_kv_bytes_per_token": fit.kv_bytes_per_token,
        "prai_predicted_tokens": int(predicted),
        "predicted_over_actual": round(predicted / tokens, 4),
        "conservative": predicted <= tokens,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
