"""Closed-network environment for the engine: offline flags, writable caches, CPU tuning."""

from __future__ import annotations

import os

OFFLINE_VARS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
}


def force_offline_in_process() -> None:
    """Set the offline flags in this process (before any Hugging Face import)."""
    for k, v in OFFLINE_VARS.items():
        os.environ[k] = v  # noqa: not via settings: this must precede HF imports
