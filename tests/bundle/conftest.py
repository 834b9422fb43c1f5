"""Bundle test fixtures (defined in bundle_fixtures.py, which tests also import helpers from)."""

from tests.bundle.bundle_fixtures import (  # noqa: F401
    adapters,
    minilm,
    pki,
    registry,
    s3_env,
    s3_http,
    s3_https,
    tiny_llama,
)
from tests.bundle.oci_fixtures import authfile, connected, layout, nested  # noqa: F401
