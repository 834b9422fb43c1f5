"""Engine test fixtures: ``tiny_model`` (a complete Llama-shaped directory whose weights are
zeros: enough for the preflight, which reads headers only) and ``make_adapter`` (PEFT LoRA
directories with the shapes asked for), from tests/_support/model_dirs.py."""

from tests._support.model_dirs import make_adapter, tiny_model

__all__ = ["make_adapter", "tiny_model"]
