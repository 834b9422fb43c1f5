"""PrAI — Private AI Kitchen: LLM serving toolkit for closed networks (閉域網).

``import prai`` is light: it never imports torch, transformers or vLLM. Heavy libraries
are imported inside :mod:`prai.engine` only.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
