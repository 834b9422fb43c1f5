"""Container image references: parse, and insist on digests (tags move; digests do not)."""

from __future__ import annotations

import re

from prai.errors import UsageError

from .manifest import ImageRef

# docker/distribution reference grammar, simplified: [host[:port]/]path[:tag][@algo:hex]
_REF = re.compile(
    r"^(?P<repo>(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def parse_image_ref(ref: str) -> tuple[ImageRef, list[str]]:
    """Parse ``registry/repo[:tag][@sha256:…]``.

    Returns:
        (the reference, warnings: a bare tag is allowed but warned about).

    Raises:
        UsageError: not a valid reference, or a digest that is not sha256 with 64 hex digits.
    """
    m = _REF.match(ref.strip())
    if not m:
        raise UsageError(
            f"--image {ref!r} is not a valid image reference",
            hint="use registry/repo@sha256:<64 hex> (find it with `skopeo inspect docker://…`)",
        )
    image = ImageRef(ref=ref.strip(), repository=m["repo"], tag=m["tag"], digest=m["digest"])
    warnings = []
    if image.digest is None:
        warnings.append(
            f"image {ref!r} has no digest: a tag can point elsewhere tomorrow; pin it as "
            "repo@sha256:… (seed §6)"
        )
    return image, warnings
