"""`prai serve` and the demo model: the only package that touches torch/transformers/vLLM.

Offline flags are set here first, before any Hugging Face library can be imported
through this package: huggingface_hub reads HF_HUB_OFFLINE at import time.
"""

from prai.engine.environment import force_offline_in_process

force_offline_in_process()
