"""Preflight of PEFT LoRA adapters against a base model and the engine's LoRA limits.

An adapter fits when: adapter_config.json is a LoRA config, its weights are present and
complete, every target module exists in the base model, and every ``lora_A`` / ``lora_B``
matrix has the shape the base module needs (``lora_A``: ``(r, in_features)``,
``lora_B``: ``(out_features, r)``, as PEFT stores them). A different recorded base model
name is only a warning: adapters are trained elsewhere and recorded paths differ.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from prai.errors import AdapterError
from prai.modelfiles.model_dir import ModelFacts, looks_like_remote
from prai.modelfiles.safetensors_header import SafetensorsHeaderError, read_header

# vLLM's LoRAConfig.max_lora_rank accepts only these values (vllm/config/lora.py,
# MaxLoRARanks, vLLM 0.32).
VLLM_MAX_LORA_RANKS: tuple[int, ...] = (1, 8, 16, 32, 64, 128, 256, 320, 512)

_LORA_TENSOR = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.[^.]+)?\.weight$")


@dataclass
class AdapterFacts:
    """A checked adapter.

    Attributes:
        name: the served name (``--lora-modules NAME=PATH``).
        path: the adapter directory (absolute).
        rank: LoRA rank ``r``.
        alpha: ``lora_alpha``.
        target_modules: module names the adapter modifies.
        base_model_name: ``base_model_name_or_path`` as recorded (may be a foreign path).
        warnings: non-fatal findings.
    """

    name: str
    path: Path
    rank: int
    alpha: float
    target_modules: list[str]
    base_model_name: str | None
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


def _target_list(raw: object, model: ModelFacts) -> list[str]:
    if isinstance(raw, str):  # PEFT allows a regular expression over full module names
        pattern = re.compile(raw)
        return sorted({m.rsplit(".", 1)[-1] for m in model.linear_shapes if pattern.fullmatch(m)}) or [raw]
    if isinstance(raw, list):
        return [str(x) for x in raw]
    return []


def inspect_adapter(
    name: str,
    ref: str,
    model: ModelFacts,
    *,
    max_lora_rank: int | None = None,
    served_model_name: str | None = None,
) -> AdapterFacts:
    """Check one adapter directory against ``model``.

    Args:
        name: served adapter name.
        ref: adapter directory path.
        model: facts of the base model (from :func:`inspect_model_dir`).
        max_lora_rank: the engine's ``--max-lora-rank``; a larger rank is refused.
        served_model_name: the base model's served name, for the base-name warning.

    Raises:
        AdapterError: not a local PEFT LoRA directory, incomplete, a target module the
            model lacks, a shape mismatch, or a rank above ``max_lora_rank``.
    """
    path = Path(ref).expanduser()
    if path.exists() and not path.is_dir():
        raise AdapterError(f"adapter {name!r}: {ref} is a file; pass the adapter's directory")
    if not path.is_dir():
        if looks_like_remote(ref):
            raise AdapterError(
                f"adapter {name!r}: {ref!r} is a hub repo id or URL, not a local directory",
                hint="bring the adapter in as a directory and pass its path (seed §13)",
            )
        raise AdapterError(f"adapter {name!r}: {ref}: no such directory", hint="check the path with `ls -lah`")
    path = path.resolve()
    cfg_path = path / "adapter_config.json"
    if not cfg_path.is_file():
        raise AdapterError(f"adapter {name!r}: {path} has no adapter_config.json (not a PEFT adapter)")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise AdapterError(f"adapter {name!r}: {cfg_path} is not valid JSON") from None
    if not isinstance(cfg, dict) or str(cfg.get("peft_type", "LORA")).upper() != "LORA":
        raise AdapterError(f"adapter {name!r}: peft_type is {cfg.get('peft_type')!r}; vLLM serves LoRA adapters only")
    try:
        rank = int(cfg["r"])
    except (KeyError, TypeError, ValueError):
        raise AdapterError(f"adapter {name!r}: {cfg_path} has no integer 'r' (LoRA rank)") from None
    round_up_lora_rank(rank, name)
    if max_lora_rank is not None and rank > max_lora_rank:
        raise AdapterError(
            f"adapter {name!r}: LoRA rank {rank} is greater than max_lora_rank {max_lora_rank}",
            hint=f"start the engine with --max-lora-rank {round_up_lora_rank(rank)} (or omit it: PrAI picks it)",
        )
    targets = _target_list(cfg.get("target_modules"), model)
    if not targets:
        raise AdapterError(f"adapter {name!r}: {cfg_path} lists no target_modules")
    facts = AdapterFacts(
        name=name,
        path=path,
        rank=rank,
        alpha=float(cfg.get("lora_alpha", rank)),
        target_modules=targets,
        base_model_name=cfg.get("base_model_name_or_path"),
    )
    if model.linear_shapes:
        suffixes = {m.rsplit(".", 1)[-1] for m in model.linear_shapes}
        absent = [t for t in targets if t.rsplit(".", 1)[-1] not in suffixes]
        if absent:
            raise AdapterError(
                f"adapter {name!r}: target modules {', '.join(absent)} do not exist in the base model "
                f"{served_model_name or model.path.name!r} (it has {', '.join(sorted(suffixes)[:8])}...)",
                hint="this adapter was trained for another model architecture; use the matching base model",
            )
    _check_weights(facts, model)
    recorded = facts.base_model_name
    if recorded:
        known = {model.path.name, str(model.path), served_model_name or ""}
        if recorded not in known and Path(recorded).name not in known:
            facts.warnings.append(
                f"adapter {name!r} records base model {recorded!r}, not {served_model_name or model.path.name!r}; "
                "serving it anyway (its shapes fit)"
            )
    return facts


def _check_weights(facts: AdapterFacts, model: ModelFacts) -> None:
    weights = facts.path / "adapter_model.safetensors"
    if not weights.is_file():
        if (facts.path / "adapter_model.bin").is_file():
            return  # pickled weights: vLLM loads them; shapes cannot be read without torch
        raise AdapterError(f"adapter {facts.name!r}: {facts.path} has no adapter_model.safetensors")
    try:
        tensors = read_header(weights)
    except SafetensorsHeaderError as exc:
        raise AdapterError(f"adapter {facts.name!r}: {weights}: {exc}") from None
    if not model.linear_shapes:
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
            raise AdapterError(f"adapter {facts.name!r}: module {module} does not exist in the base model")
        out_f, in_f = base
        found_rank = info.shape[0] if m.group("ab") == "A" else info.shape[1]
        if found_rank != facts.rank:
            raise AdapterError(
                f"adapter {facts.name!r}: adapter_config.json says r={facts.rank} but {tensor_name} has rank "
                f"{found_rank}",
                hint="adapter_config.json and adapter_model.safetensors come from different trainings: copy both again",
            )
        expected = (facts.rank, in_f) if m.group("ab") == "A" else (out_f, facts.rank)
        if tuple(info.shape) != expected:
            raise AdapterError(
                f"adapter {facts.name!r}: {tensor_name} has shape {list(info.shape)}, "
                f"the base model needs {list(expected)} (trained for a model of another size)",
                hint="use the adapter trained for this base model",
            )
