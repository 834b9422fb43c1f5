"""`prai serve` and the demo model builder: the only package that imports torch,
transformers, peft or vLLM.

Importing it changes nothing: the closed-network environment
(:mod:`prai.engine.environment`) is applied where an engine starts: the vLLM process gets
:func:`~prai.engine.environment.engine_environment`, and the demo model builder calls
:func:`~prai.engine.environment.force_offline_in_process` before it imports transformers
(huggingface_hub reads HF_HUB_OFFLINE at import time).
"""
