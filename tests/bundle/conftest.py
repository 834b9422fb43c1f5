"""Bundle test fixtures (defined in bundle_fixtures.py, which tests also import helpers from)."""

from bundle_fixtures import (  # noqa: F401
    adapters,
    minilm,
    pki,
    registry,
    s3_env,
    s3_http,
    s3_https,
    tiny_llama,
)


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """Run the demo-model bundle test last, after the engine tests have built (and cached)
    the demo model, instead of building it first."""
    last = [i for i in items if "test_bundle_demo_model" in i.nodeid]
    items[:] = [i for i in items if i not in last] + last
