"""Read a safetensors file's header without loading tensors (no torch import).

Format (https://github.com/huggingface/safetensors, "Format"): 8 bytes little-endian
unsigned header length N, then N bytes of JSON mapping tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets relative to the end of the
header), plus an optional ``"__metadata__"`` entry. A complete file is exactly
``8 + N + max(end)`` bytes long, which is how truncation is detected.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors reference implementation's limit


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry: dtype string (e.g. ``BF16``) and shape."""

    dtype: str
    shape: tuple[int, ...]


class SafetensorsHeaderError(ValueError):
    """The file is not a complete safetensors file; the message says why."""


def read_header(path: Path) -> dict[str, TensorInfo]:
    """Tensor name → :class:`TensorInfo` for a safetensors file.

    Raises:
        SafetensorsHeaderError: the header is unreadable or the file is shorter or longer
            than its header declares (a truncated or corrupted copy).
        OSError: the file cannot be opened.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) < 8:
            raise SafetensorsHeaderError(f"{size} bytes, too short to be safetensors")
        (n,) = struct.unpack("<Q", raw)
        if n > _MAX_HEADER_BYTES or 8 + n > size:
            raise SafetensorsHeaderError("header length is larger than the file (truncated copy?)")
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise SafetensorsHeaderError("header is not valid JSON (corrupted copy?)") from None
    if not isinstance(header, dict):
        raise SafetensorsHeaderError("header is not a JSON object")
    tensors: dict[str, TensorInfo] = {}
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = entry["data_offsets"]
            tensors[name] = TensorInfo(dtype=str(entry["dtype"]), shape=tuple(int(d) for d in entry["shape"]))
        except (KeyError, TypeError, ValueError):
            raise SafetensorsHeaderError(f"tensor {name!r} has a malformed header entry") from None
        data_end = max(data_end, int(end))
        del begin
    expected = 8 + n + data_end
    if size != expected:
        raise SafetensorsHeaderError(
            f"file is {size:,} bytes but its header declares {expected:,} (truncated or corrupted copy)"
        )
    return tensors
