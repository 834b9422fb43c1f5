"""Model-directory completeness and adapter fit, from files alone (no torch).

Reads config.json, tokenizer files, the chat template and safetensors *headers*
(format: 8-byte little-endian header length, then a JSON header mapping tensor names to
``{"dtype", "shape", "data_offsets"}``; https://github.com/huggingface/safetensors), so a
check of a 100 GB model reads a few megabytes.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

from prai.bundle.manifest import AdapterFacts, ModelFacts
from prai.errors import AdapterError, ModelError

_TOKENIZER_SETS = (
    ("tokenizer.json",),
    ("tokenizer.model",),
    ("vocab.json", "merges.txt"),
    ("vocab.txt",),
)
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit for the JSON header
_GENERATIVE = re.compile(r"(ForCausalLM|ForConditionalGeneration|LMHeadModel)$")



def _inside(root: Path, name: object) -> bool:
    """True when ``name`` is a plain relative path that stays inside ``root``."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        return False
    return (root / name).resolve().is_relative_to(root.resolve())

@dataclass
class ModelDirReport:
    """Result of :func:`check_model_dir`.

    Attributes:
        facts: what the manifest records about the model.
        problems: blocking findings, each naming the file and the fix.
        warnings: non-blocking findings.
        tensor_shapes: tensor name -> shape, from every shard header (for adapter checks).
    """

    path: Path
    facts: ModelFacts
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tensor_shapes: dict[str, list[int]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raises ModelError listing every problem (exit code 4)."""
        if self.problems:
            raise ModelError(
                f"model directory {self.path} is not complete:\n"
                + "\n".join(f"- {p}" for p in self.problems)
            )


def read_safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a .safetensors file (tensor name -> dtype/shape/data_offsets).

    Raises:
        ValueError: not a safetensors file, or the file is shorter than its header says
            (a truncated copy).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("shorter than 8 bytes")
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER_BYTES or 8 + n > size:
            raise ValueError("header length is past the end of the file (truncated?)")
        header = json.loads(f.read(n))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        end = max(end, int(info["data_offsets"][1]))
    if 8 + n + end != size:
        raise ValueError(
            f"file is {size} bytes but its header describes {8 + n + end} bytes (truncated?)"
        )
    return header


def _load_json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(f"{path.name}: unreadable JSON ({exc.__class__.__name__}); copy it again")
        return None
    if not isinstance(data, dict):
        problems.append(f"{path.name}: not a JSON object; copy it again")
        return None
    return data


def _has_chat_template(root: Path) -> bool:
    if (root / "chat_template.jinja").is_file() or (root / "chat_template.json").is_file():
        return True
    try:
        tc = json.loads((root / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(isinstance(tc, dict) and tc.get("chat_template"))


def check_model_dir(
    path: str | Path, *, require_chat_template: bool | None = None
) -> ModelDirReport:
    """Check that a Hugging Face model directory is complete enough for vLLM to serve.

    Checks: config.json parses; weights present (every shard named in
    ``model.safetensors.index.json``, each shard's header intact and its size matching the
    header, every indexed tensor inside its shard); a tokenizer (tokenizer.json,
    tokenizer.model, vocab.json+merges.txt or vocab.txt); a chat template for generative
    models (chat_template.jinja/.json or tokenizer_config.json ``chat_template``).

    Args:
        path: the model directory.
        require_chat_template: None = only for generative architectures (``*ForCausalLM``…),
            True/False to force.

    Returns:
        A report; call ``raise_for_problems()`` to turn problems into a ModelError.

    Raises:
        ModelError: ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"model directory {root} does not exist or is not a directory")
    problems: list[str] = []
    warnings: list[str] = []
    config = _load_json(root / "config.json", problems)
    if config is None and not any("config.json" in p for p in problems):
        problems.append("config.json is missing; copy it from the model's original directory")
    config = config or {}

    shapes: dict[str, list[int]] = {}
    dtypes: dict[str, int] = {}
    weight_files: list[str] = []
    index_path = root / "model.safetensors.index.json"
    index = _load_json(index_path, problems) if index_path.exists() else None
    if index is not None:
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            problems.append(f"{index_path.name}: no weight_map; copy it again")
            weight_map = {}
        shards = sorted(set(weight_map.values()))
        escaping = [s for s in shards if not _inside(root, s)]
        if escaping:
            problems.append(
                f"{index_path.name}: weight_map names a file outside the model directory ({escaping[0]}); "
                "the index is damaged or hostile, copy the model again from its source"
            )
            shards = [s for s in shards if s not in escaping]
        for shard in shards:
            if not (root / shard).is_file():
                problems.append(
                    f"{shard} is missing (named in {index_path.name}); copy every shard"
                )
        weight_files = [s for s in shards if (root / s).is_file()]
    elif (root / "model.safetensors").is_file():
        weight_map = {}
        weight_files = ["model.safetensors"]
    else:
        weight_map = {}
        bins = sorted(p.name for p in root.glob("pytorch_model*.bin"))
        if bins:
            warnings.append("weights are pickle .bin files; prefer safetensors (safe to load)")
            weight_files = bins
        else:
            problems.append(
                "no weights: neither model.safetensors nor model.safetensors.index.json "
                "(with its shards) is in the directory"
            )
    for wf in weight_files:
        if not wf.endswith(".safetensors"):
            continue
        try:
            header = read_safetensors_header(root / wf)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{wf}: damaged safetensors file ({exc}); copy it again")
            continue
        for name, info in header.items():
            if name == "__metadata__":
                continue
            shapes[name] = list(info.get("shape", []))
            dtypes[info.get("dtype", "?")] = dtypes.get(info.get("dtype", "?"), 0) + 1
        missing = [t for t, s in weight_map.items() if s == wf and t not in header]
        if missing:
            problems.append(
                f"{wf}: {len(missing)} tensor(s) named in the index are not in the shard "
                f"(first: {missing[0]}); the shard is from another revision, copy it again"
            )

    if not any(all((root / f).is_file() for f in group) for group in _TOKENIZER_SETS):
        problems.append(
            "no tokenizer (tokenizer.json, tokenizer.model, vocab.json+merges.txt or vocab.txt); "
            "copy the tokenizer files with the model"
        )
    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    has_template = _has_chat_template(root)
    need_template = (
        require_chat_template
        if require_chat_template is not None
        else any(_GENERATIVE.search(a) for a in archs)
    )
    if need_template and not has_template:
        problems.append(
            "no chat template (chat_template.jinja, or chat_template in tokenizer_config.json); "
            "/v1/chat/completions will fail: copy the template or add one"
        )

    text_cfg: dict[str, Any] = (
        config["text_config"] if isinstance(config.get("text_config"), dict) else {}
    )

    def cfg(*keys: str) -> Any:
        for k in keys:
            for c in (config, text_cfg):
                if isinstance(c.get(k), int | str):
                    return c[k]
        return None

    dtype = cfg("torch_dtype", "dtype")
    if dtype is None and dtypes:
        dtype = max(dtypes, key=lambda d: dtypes[d])
    facts = ModelFacts(
        name=str(config.get("_name_or_path") or root.resolve().name),
        path="model",
        architectures=archs,
        model_type=config.get("model_type") if isinstance(config.get("model_type"), str) else None,
        dtype=str(dtype) if dtype is not None else None,
        parameter_count=sum(prod(s) for s in shapes.values()) if shapes else None,
        max_context_tokens=cfg("max_position_embeddings", "max_seq_len", "n_positions"),
        hidden_size=cfg("hidden_size", "d_model", "n_embd"),
        num_hidden_layers=cfg("num_hidden_layers", "n_layer"),
        vocab_size=cfg("vocab_size"),
        has_chat_template=has_template,
        weight_files=weight_files,
    )
    return ModelDirReport(root, facts, problems, warnings, shapes)


def _module_names(tensor_names: list[str]) -> set[str]:
    return {n.rsplit(".", 1)[0] for n in tensor_names if "." in n}


def check_adapter(
    name: str, path: str | Path, model: ModelDirReport
) -> tuple[AdapterFacts, list[str]]:
    """Check that a PEFT LoRA adapter fits the base model.

    Checks adapter_config.json (peft_type, r, target_modules), that adapter weights exist,
    that each target module exists in the model, and that every ``lora_A`` has shape
    ``(r, in_features)`` and every ``lora_B`` ``(out_features, r)`` of the model's weight.
    A different ``base_model_name_or_path`` is only a warning.

    Returns:
        (facts for the manifest, warnings).

    Raises:
        AdapterError: missing/invalid config or weights, unknown target modules, shape
            mismatch (message names the tensor and both shapes).
    """
    root = Path(path)
    problems: list[str] = []
    cfg = _load_json(root / "adapter_config.json", problems)
    if cfg is None:
        raise AdapterError(
            f"adapter {name!r}: {problems[0] if problems else 'adapter_config.json is missing'} "
            f"in {root}"
        )
    warnings: list[str] = []
    peft_type = cfg.get("peft_type")
    if peft_type not in (None, "LORA"):
        raise AdapterError(f"adapter {name!r}: peft_type {peft_type!r}; vLLM serves LoRA only")
    rank = cfg.get("r")
    targets_raw = cfg.get("target_modules") or []
    targets = [targets_raw] if isinstance(targets_raw, str) else list(targets_raw)
    weights = root / "adapter_model.safetensors"
    if not weights.is_file():
        if (root / "adapter_model.bin").is_file():
            warnings.append(f"adapter {name!r}: pickle adapter_model.bin; prefer safetensors")
        else:
            raise AdapterError(f"adapter {name!r}: adapter_model.safetensors is missing in {root}")
    base_name = cfg.get("base_model_name_or_path")
    if base_name and model.facts.name and Path(str(base_name)).name != Path(model.facts.name).name:
        warnings.append(
            f"adapter {name!r}: trained on {base_name!r}, bundled with {model.facts.name!r} "
            "(fine if it is the same model under another name)"
        )
    modules = _module_names(list(model.tensor_shapes))
    if model.tensor_shapes and targets and isinstance(targets_raw, list):
        leaves = {m.rsplit(".", 1)[-1] for m in modules}
        unknown = [t for t in targets if t != "all-linear" and t not in leaves and t not in modules]
        if unknown:
            raise AdapterError(
                f"adapter {name!r}: target module(s) {unknown} do not exist in the base model "
                f"(it has e.g. {sorted(leaves)[:8]})"
            )
    if weights.is_file() and model.tensor_shapes:
        try:
            header = read_safetensors_header(weights)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise AdapterError(f"adapter {name!r}: damaged {weights.name} ({exc})") from None
        for tname, info in header.items():
            m = re.match(r"^(?:base_model\.model\.)?(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$", tname)
            if not m:
                continue
            module, ab = m.group(1), m.group(2)
            base = model.tensor_shapes.get(module + ".weight")
            if base is None:
                raise AdapterError(
                    f"adapter {name!r}: tensor {tname} adapts {module}, which the base model "
                    "does not have; it was trained for another architecture"
                )
            shape = list(info.get("shape", []))
            if len(base) != 2 or len(shape) != 2:
                continue
            out_f, in_f = base
            r = shape[0] if ab == "A" else shape[1]
            want = [r, in_f] if ab == "A" else [out_f, r]
            if shape != want or (
                isinstance(rank, int) and not cfg.get("rank_pattern") and r != rank
            ):
                raise AdapterError(
                    f"adapter {name!r}: {tname} has shape {shape}, the base model's {module} "
                    f"needs {want} with r={rank}; the adapter was trained for another model size"
                )
    alpha = cfg.get("lora_alpha")
    facts = AdapterFacts(
        name=name,
        path=f"adapters/{name}",
        peft_type=peft_type,
        base_model_name_or_path=str(base_name) if base_name else None,
        rank=rank if isinstance(rank, int) else None,
        lora_alpha=float(alpha) if isinstance(alpha, int | float) else None,
        target_modules=[str(t) for t in targets],
    )
    return facts, warnings
