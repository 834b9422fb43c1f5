"""Shared test helpers: ports and HTTP waits (net), one configurable fake OpenAI-compatible
upstream (fake_openai), small real model directories (model_dirs)."""
