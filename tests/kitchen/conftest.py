"""Kitchen fixtures, from the rooms the kitchen stands on: the gateway tests' fake upstream,
the bundle tests' tiny model and adapters."""

from tests.bundle.bundle_fixtures import adapters, tiny_llama
from tests.gateway.conftest import fake_upstream

__all__ = ["adapters", "fake_upstream", "tiny_llama"]
