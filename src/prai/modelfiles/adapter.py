"""PEFT LoRA adapters: the one check of an adapter against its base model and vLLM's limits.

An adapter fits when: adapter_config.json is a LoRA config with an integer rank ``r``
that vLLM accepts, its weights are present and complete, every target module exists in
the base model, and every ``lora_A`` / ``lora_B`` matrix has the shape the base module
needs (``lora_A``: ``(r, in_features)``, ``lora_B``: ``(out_features, r)``, as PEFT stores
them). A different recorded base model name is only a warning: adapters are trained
elsewhere and recorded paths differ. Used by ``prai serve`` (and its load middleware),
``prai bundle create``, ``prai doctor`` and the demo; :func:`read_adapter_facts` reads
only adapter_config.json and sizes, for ``prai render``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai.errors import AdapterError, ModelFactsError
from prai.modelfiles.model_dir import (
    ModelFacts,
    missing_dir,
    read_json_object,
    tree_bytes,
)
from prai.modelfiles.safetensors_header import SafetensorsHeaderError, read_header

# vLLM's LoRAConfig.max_lora_rank accepts only these values (vllm/config/lora.py,
# MaxLoRARanks, vLLM 0.32).
VLLM_MAX_LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)

_LORA_TENSOR = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")


@dataclass
class AdapterFacts:
    """A LoRA adapter as PrAI knows it (the one record every room uses).

    Attributes:
        name: the served name (``--lora-modules NAME=PATH``), or the bundle's adapter name.
        path: the adapter directory.
        rank: LoRA rank ``r``.
        alpha: ``lora_alpha`` (None when absent).
        target_modules: module names the adapter modifies, as adapter_config.json lists
            them (a regular expression stays one entry).
        base_model_name: ``base_model_name_or_path`` as recorded (may be a foreign path).
        peft_type: ``peft_type`` as recorded (None when absent: PEFT's default, LoRA).
        total_bytes: bytes of the adapter directory (render), 0 when not counted.
        warnings: non-fatal findings.
    """

    name: str
    path: Path
    rank: int
    alpha: float | None
    target_modules: list[str]
    base_model_name: str | None
    peft_type: str | None = None
    total_bytes: int = 0
    warnings: list[str] = field(default_factory=list)


def round_up_lora_rank(rank: int, adapter: str | None = None) -> int:
    """The smallest value vLLM accepts for ``--max-lora-rank`` that is >= ``rank``.

    Raises:
        AdapterError: ``rank`` is above the largest value vLLM accepts (512).
    """
    for allowed in VLLM_MAX_LORA_RANKS:
        if allowed >= rank:
            return allowed
    who = f"adapter {adapter!r}: " if adapter else ""
    raise AdapterError(f"{who}LoRA rank {rank} is above vLLM's largest --max-lora-rank ({VLLM_MAX_LORA_RANKS[-1]})")


def _declared_targets(raw: object) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [str(x) for x in raw]
    return []


def _absent_targets(raw: object, targets: list[str], model: ModelFacts) -> list[str]:
    """Declared targets the model has no linear module for ("all-linear" and a matching
    regular expression are present by definition)."""
    suffixes = {m.rsplit(".", 1)[-1] for m in model.linear_shapes}
    if isinstance(raw, str):  # PEFT: a regular expression over full module names, or "all-linear"
        if raw == "all-linear":
            return []
        pattern = re.compile(raw)
        return [] if any(pattern.fullmatch(m) for m in model.linear_shapes) or raw in suffixes else [raw]
    return [t for t in targets if t != "all-linear" and t.rsplit(".", 1)[-1] not in suffixes]


def _adapter_config(name: str, path: Path) -> dict[str, Any]:
    cfg_path = path / "adapter_config.json"
    if not cfg_path.is_file():
        raise AdapterError(f"adapter {name!r}: {path} has no adapter_config.json (not a PEFT adapter)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AdapterError(f"adapter {name!r}: {cfg_path} is not valid JSON") from None
    if not isinstance(cfg, dict) or str(cfg.get("peft_type") or "LORA").upper() != "LORA":
        peft = cfg.get("peft_type") if isinstance(cfg, dict) else None
        raise AdapterError(f"adapter {name!r}: peft_type is {peft!r}; vLLM serves LoRA adapters only")
    return cfg


def inspect_adapter(
    name: str,
    ref: str | Path,
    model: ModelFacts | None,
    *,
    max_lora_rank: int | None = None,
    served_model_name: str | None = None,
) -> AdapterFacts:
    """Check one adapter directory against ``model``.

    Args:
        name: served adapter name.
        ref: adapter directory path.
        model: facts of the base model (from :func:`~prai.modelfiles.model_dir.inspect_model_dir`
            or ``check_model_dir(...).facts``); None checks the adapter's own files only
            (an adapter-only bundle).
        max_lora_rank: the engine's ``--max-lora-rank``; a larger rank is refused.
        served_model_name: the base model's served name, for the base-name warning.

    Raises:
        AdapterError: not a local PEFT LoRA directory, incomplete, a target module the
            model lacks, a shape mismatch, or a rank above ``max_lora_rank`` or 512.
    """
    ref = str(ref)
    path = Path(ref).expanduser()
    if path.exists() and not path.is_dir():
        raise AdapterError(f"adapter {name!r}: {ref} is a file; pass the adapter's directory")
    if not path.is_dir():
        message, hint = missing_dir(f"adapter {name!r}: ", ref)
        raise AdapterError(message, hint=hint)
    path = path.resolve()
    cfg = _adapter_config(name, path)
    try:
        rank = int(cfg["r"])
    except (KeyError, TypeError, ValueError):
        raise AdapterError(f"adapter {name!r}: {path / 'adapter_config.json'} has no integer 'r' (LoRA rank)") from None
    round_up_lora_rank(rank, name)
    if max_lora_rank is not None and rank > max_lora_rank:
        raise AdapterError(
            f"adapter {name!r}: LoRA rank {rank} is greater than max_lora_rank {max_lora_rank}",
            hint=f"start the engine with --max-lora-rank {round_up_lora_rank(rank)} (or omit it: PrAI picks it)",
        )
    raw_targets = cfg.get("target_modules")
    targets = _declared_targets(raw_targets)
    if not targets:
        raise AdapterError(f"adapter {name!r}: {path / 'adapter_config.json'} lists no target_modules")
    alpha = cfg.get("lora_alpha")
    recorded = cfg.get("base_model_name_or_path")
    facts = AdapterFacts(
        name=name,
        path=path,
        rank=rank,
        alpha=float(alpha) if isinstance(alpha, int | float) else None,
        target_modules=targets,
        base_model_name=str(recorded) if recorded else None,
        peft_type=cfg.get("peft_type"),
    )
    if model is not None and model.linear_shapes:
        absent = _absent_targets(raw_targets, targets, model)
        if absent:
            suffixes = sorted({m.rsplit(".", 1)[-1] for m in model.linear_shapes})
            raise AdapterError(
                f"adapter {name!r}: target modules {', '.join(absent)} do not exist in the base model "
                f"{served_model_name or model.path.name!r} (it has {', '.join(suffixes[:8])}...)",
                hint="this adapter was trained for another model architecture; use the matching base model",
            )
    _check_weights(facts, model, per_module_ranks=bool(cfg.get("rank_pattern")))
    if model is not None and facts.base_model_name:
        base = served_model_name or model.path.name
        known = {model.path.name, str(model.path), served_model_name or "", *model.names}
        if facts.base_model_name not in known and Path(facts.base_model_name).name not in known:
            facts.warnings.append(
                f"adapter {name!r} records base model {facts.base_model_name!r}, not {base!r}: "
                f"fine if it was trained on {facts.base_model_name!r} as the same model under another name "
                "(its shapes fit)"
            )
    return facts


def _check_weights(facts: AdapterFacts, model: ModelFacts | None, *, per_module_ranks: bool) -> None:
    weights = facts.path / "adapter_model.safetensors"
    if not weights.is_file():
        if (facts.path / "adapter_model.bin").is_file():
            # pickled weights: vLLM loads them; shapes cannot be read without torch
            facts.warnings.append(f"adapter {facts.name!r}: pickle adapter_model.bin; prefer safetensors")
            return
        raise AdapterError(f"adapter {facts.name!r}: {facts.path} has no adapter_model.safetensors")
    try:
        tensors = read_header(weights)
    except SafetensorsHeaderError as exc:
        raise AdapterError(f"adapter {facts.name!r}: {weights}: damaged ({exc})") from None
    if model is None or not model.linear_shapes:
        return
    for tensor_name, info in tensors.items():
        m = _LORA_TENSOR.match(tensor_name)
        if not m or len(info.shape) != 2:
            continue
        module = m.group("module")
        base = model.linear_shapes.get(module)
        if base is None:
            # Some exporters drop or add the leading "model."; match on the layer path.
            tail = module.split("layers.", 1)[-1]
            candidates = [v for k, v in model.linear_shapes.items() if k.endswith("layers." + tail)]
            base = candidates[0] if len(candidates) == 1 else None
        if base is None:
            raise AdapterError(
                f"adapter {facts.name!r}: module {module} does not exist in the base model "
                "(it was trained for another architecture)"
            )
        out_f, in_f = base
        found_rank = info.shape[0] if m.group("ab") == "A" else info.shape[1]
        if found_rank != facts.rank and not per_module_ranks:
            raise AdapterError(
                f"adapter {facts.name!r}: adapter_config.json says r={facts.rank} but {tensor_name} has rank "
                f"{found_rank}",
                hint="adapter_config.json and adapter_model.safetensors come from different trainings: copy both again",
            )
        expected = (found_rank, in_f) if m.group("ab") == "A" else (out_f, found_rank)
        if tuple(info.shape) != expected:
            raise AdapterError(
                f"adapter {facts.name!r}: {tensor_name} has shape {list(info.shape)}, "
                f"the base model needs {list(expected)} (trained for another model size)",
                hint="use the adapter trained for this base model",
            )


def read_adapter_facts(adapter_dir: Path) -> AdapterFacts:
    """adapter_config.json and the directory's size only (``prai render``).

    Raises:
        ModelFactsError: missing/unreadable file, or no positive integer ``r``.
    """
    if not adapter_dir.is_dir():
        raise ModelFactsError(f"{adapter_dir}: adapter directory not found")
    path = adapter_dir / "adapter_config.json"
    cfg = read_json_object(path, "adapter_config.json")
    rank = cfg.get("r")
    if not isinstance(rank, int) or rank <= 0:
        raise ModelFactsError(f"{path}: 'r' (the LoRA rank) is missing or not a positive integer")
    alpha = cfg.get("lora_alpha")
    recorded = cfg.get("base_model_name_or_path")
    return AdapterFacts(
        name=adapter_dir.name,
        path=adapter_dir,
        rank=rank,
        alpha=float(alpha) if isinstance(alpha, int | float) else None,
        target_modules=_declared_targets(cfg.get("target_modules")),
        base_model_name=str(recorded) if recorded else None,
        peft_type=cfg.get("peft_type"),
        total_bytes=tree_bytes(adapter_dir)[0],
    )


__all__ = ["VLLM_MAX_LORA_RANKS", "AdapterFacts", "inspect_adapter", "read_adapter_facts", "round_up_lora_rank"]
