"""Checks that the engine stack (the ``cpu`` or ``gpu`` extra) is importable."""

from __future__ import annotations

import importlib.util

from prai.errors import EngineNotInstalled


def _missing(modules: list[str]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require_training_stack() -> None:
    """Raise EngineNotInstalled unless torch, transformers, tokenizers and peft import."""
    missing = _missing(["torch", "transformers", "tokenizers", "peft", "safetensors"])
    if missing:
        raise EngineNotInstalled(f"building the demo model needs {', '.join(missing)}, not installed")


def require_vllm() -> None:
    """Raise EngineNotInstalled unless vLLM is importable."""
    if _missing(["vllm", "torch"]):
        raise EngineNotInstalled("vLLM is not installed in this environment")
