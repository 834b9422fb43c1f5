"""Model-file fixtures: a tiny real model directory and a LoRA adapter factory."""

from tests._support.model_dirs import make_adapter, tiny_model

__all__ = ["make_adapter", "tiny_model"]
