"""Preflight of a base model directory: complete, local and readable before vLLM starts.

Checks, in order, each ending in one :class:`~prai.errors.ModelError` with a fix:
the path is a local directory (a hub repo id is refused: vLLM would try to download),
config.json parses, every weight shard named in the safetensors index is present and as
long as its header declares, tokenizer files exist; a missing chat template is a warning.
Only file headers are read, so this takes milliseconds even for large models.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai.errors import ModelError, ModelNotLocal
from prai.modelfiles.safetensors_header import SafetensorsHeaderError, TensorInfo, read_header

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TOKENIZER_SETS: tuple[tuple[str, ...], ...] = (
    ("tokenizer.json",),
    ("tokenizer.model",),
    ("vocab.json", "merges.txt"),
    ("vocab.txt",),
    ("tekken.json",),
)


@dataclass
class ModelFacts:
    """What the preflight learned about a model directory.

    Attributes:
        path: the directory (absolute).
        config: config.json as a dict.
        architectures: ``config["architectures"]``.
        head_dim: attention head size in elements (config ``head_dim`` or hidden/heads).
        max_position_embeddings: longest context the config allows (tokens), if stated.
        linear_shapes: module name (``model.layers.0.self_attn.q_proj``) → weight shape
            ``(out_features, in_features)``, read from safetensors headers.
        weight_bytes: total size of the weight files (bytes).
        has_chat_template: tokenizer_config.json, chat_template.jinja or .json has one.
        warnings: non-fatal findings, one line each.
    """

    path: Path
    config: dict[str, Any]
    architectures: list[str]
    head_dim: int | None
    max_position_embeddings: int | None
    linear_shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    weight_bytes: int = 0
    has_chat_template: bool = False
    warnings: list[str] = field(default_factory=list)


def _architectures(raw: object) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [str(a) for a in raw]
    return []


def looks_like_remote(ref: str) -> bool:
    """True for hub repo ids (``org/name``) and URLs, which vLLM would download."""
    return bool(_REPO_ID.match(ref)) or "://" in ref


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: not valid JSON (line {exc.lineno}): the copy is damaged") from None
    except PermissionError:
        raise ModelError(
            f"{path}: permission denied",
            hint="make the model files readable by the serving user: chmod -R g+rX (and group 0 on OpenShift); "
            "with SELinux, relabel the directory (seed §7)",
        ) from None


def resolve_model_dir(ref: str) -> Path:
    """The local model directory named by ``--model``.

    Raises:
        ModelNotLocal: ``ref`` is a hub repo id or URL and no such local directory exists.
        ModelError: the path does not exist or is not a directory.
    """
    path = Path(ref).expanduser()
    if not path.exists():
        if looks_like_remote(ref):
            raise ModelNotLocal(f"--model {ref!r} is a hub repo id or URL, not a local directory")
        raise ModelError(f"--model {ref}: no such directory", hint="check the mount path with `ls -lah` (seed §7)")
    if not path.is_dir():
        raise ModelError(f"--model {ref}: not a directory (pass the directory that holds config.json)")
    return path.resolve()


def _weight_files(path: Path) -> tuple[list[Path], list[str]]:
    """Shard files to check, and the names of the index files used."""
    index = path / "model.safetensors.index.json"
    if index.is_file():
        data = _read_json(index)
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ModelError(f"{index}: has no weight_map: the copy is damaged")
        shards = sorted(set(weight_map.values()))
        escaping = [s for s in shards if not _inside(path, s)]
        if escaping:
            raise ModelError(
                f"{index}: weight_map names files outside the model directory ({escaping[0]})",
                hint="the index is damaged or hostile: copy the model directory again from its source",
            )
        missing = [s for s in shards if not (path / s).is_file()]
        if missing:
            shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise ModelError(
                f"{path}: {len(missing)} of {len(shards)} weight shards named in "
                f"model.safetensors.index.json are missing: {shown}"
            )
        return [path / s for s in shards], [index.name]
    single = sorted(path.glob("*.safetensors"))
    if single:
        return single, []
    bins = sorted(path.glob("pytorch_model*.bin"))
    if bins:
        return [], []  # pickled weights: vLLM loads them; no header to check without torch
    raise ModelError(f"{path}: no weights (*.safetensors or pytorch_model*.bin)")


def _inside(root: Path, name: str) -> bool:
    """True when ``name`` is a plain relative path that stays inside ``root``."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        return False
    return (root / name).resolve().is_relative_to(root.resolve())


def _tokenizer_problem(path: Path) -> str | None:
    found = [group for group in _TOKENIZER_SETS if all((path / n).is_file() for n in group)]
    if not found:
        return "no tokenizer files (tokenizer.json, tokenizer.model, vocab.json+merges.txt or vocab.txt)"
    empty = [n for group in found for n in group if (path / n).stat().st_size == 0]
    if empty and len(found) == 1:
        return f"{empty[0]} is empty (a failed copy?)"
    return None


def inspect_tokenizer_dir(ref: str) -> Path:
    """Check a ``--tokenizer`` value: a local directory with tokenizer files.

    Raises:
        ModelNotLocal: a hub repo id or URL.
        ModelError: missing directory or no usable tokenizer files.
    """
    path = Path(ref).expanduser()
    if not path.is_dir():
        if looks_like_remote(ref):
            raise ModelNotLocal(f"--tokenizer {ref!r} is a hub repo id or URL, not a local directory")
        raise ModelError(f"--tokenizer {ref}: no such directory")
    problem = _tokenizer_problem(path)
    if problem:
        raise ModelError(f"--tokenizer {ref}: {problem}")
    return path.resolve()


def _module_shapes(tensors: dict[str, TensorInfo]) -> dict[str, tuple[int, int]]:
    shapes = {}
    for name, info in tensors.items():
        if name.endswith(".weight") and len(info.shape) == 2:
            shapes[name[: -len(".weight")]] = (info.shape[0], info.shape[1])
    return shapes


def _has_chat_template(path: Path) -> bool:
    if (path / "chat_template.jinja").is_file() or (path / "chat_template.json").is_file():
        return True
    cfg = path / "tokenizer_config.json"
    if cfg.is_file():
        data = _read_json(cfg)
        return isinstance(data, dict) and bool(data.get("chat_template"))
    return False


def inspect_model_dir(ref: str, *, need_chat_template: bool = True) -> ModelFacts:
    """Check that a model directory is complete and return its facts.

    Args:
        ref: the value of ``--model``.
        need_chat_template: warn when no chat template is present (generative models).

    Raises:
        ModelNotLocal, ModelError: see the module docstring; each names the file and fix.
    """
    path = resolve_model_dir(ref)
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelError(f"{path}: config.json is missing (is this the model directory?)")
    config = _read_json(config_path)
    if not isinstance(config, dict):
        raise ModelError(f"{config_path}: must be a JSON object")
    files, _ = _weight_files(path)
    shapes: dict[str, tuple[int, int]] = {}
    total = 0
    for f in files:
        try:
            shapes.update(_module_shapes(read_header(f)))
        except SafetensorsHeaderError as exc:
            raise ModelError(f"{f}: {exc}") from None
        except PermissionError:
            raise ModelError(
                f"{f}: permission denied",
                hint="chmod -R g+rX the model directory (group 0 on OpenShift); with SELinux, relabel it (seed §7)",
            ) from None
        total += f.stat().st_size
    problem = _tokenizer_problem(path)
    if problem:
        raise ModelError(
            f"{path}: {problem}",
            hint="copy the tokenizer files with the weights; vLLM would otherwise try to download them (seed §8)",
        )
    nested = config.get("text_config")
    text: dict[str, Any] = nested if isinstance(nested, dict) else config
    heads = text.get("num_attention_heads")
    hidden = text.get("hidden_size")
    head_dim = text.get("head_dim") or (hidden // heads if heads and hidden else None)
    facts = ModelFacts(
        path=path,
        config=config,
        architectures=_architectures(config.get("architectures")),
        head_dim=int(head_dim) if head_dim else None,
        max_position_embeddings=text.get("max_position_embeddings"),
        linear_shapes=shapes,
        weight_bytes=total,
        has_chat_template=_has_chat_template(path),
    )
    if need_chat_template and not facts.has_chat_template:
        facts.warnings.append(
            f"{path}: no chat template (tokenizer_config.json or chat_template.jinja); "
            "/v1/chat/completions will fail unless you pass --chat-template FILE"
        )
    auto_map = config.get("auto_map")
    if isinstance(auto_map, dict) and any("--" in str(v) for v in auto_map.values()):
        facts.warnings.append(
            f"{config_path}: auto_map points at code in another hub repo; it cannot be fetched offline"
        )
    return facts
