"""The result of ``prai bundle load``, shared by every destination (dir, s3, oci)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    """What a load did. ``written``/``skipped`` count files; bytes in bytes.

    Attributes:
        location: where the files are now (a path or URL to put in storageUri).
        details: destination-specific facts (e.g. the OCI manifest digest).
        warnings: e.g. an SELinux label that would block reading in a pod.
    """

    destination: str
    root_digest: str
    files: int = 0
    written: int = 0
    skipped: int = 0
    bytes_written: int = 0
    location: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    images: dict[str, Any] | None = None  # --images-to: ImagePushResult.to_json() (issue 14)
