"""Helpers shared by the deploy tests (imported as a module; fixtures are in conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden"
def model0(doc: dict[str, Any]) -> dict[str, Any]:
    """The first model of a kitchen document."""
    m: dict[str, Any] = doc["cluster"]["models"][0]
    return m


def write_adapter(dir_: Path, **cfg: Any) -> Path:
    """A PEFT adapter_config.json with defaults overridden by ``cfg``."""
    dir_.mkdir(parents=True, exist_ok=True)
    base = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "base_model_name_or_path": "tsuzumi-7b",
            "target_modules": ["q_proj", "v_proj"]}
    base.update(cfg)
    (dir_ / "adapter_config.json").write_text(json.dumps(base), encoding="utf-8")
    return dir_
