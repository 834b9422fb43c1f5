"""The CLI's one ``--json`` printer: every inspecting command prints the same way."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(data: Any) -> None:
    """Write ``data`` to stdout as JSON: UTF-8 text as is (Japanese stays readable),
    two-space indent, one trailing newline; dates and paths as strings."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


__all__ = ["print_json"]
