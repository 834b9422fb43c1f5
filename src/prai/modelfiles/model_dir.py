"""Model directories: the one check of a Hugging Face model directory, from files alone.

Reads config.json, tokenizer files, the chat template and safetensors *headers*
(:mod:`prai.modelfiles.safetensors_header`), so checking a 100 GB model reads a few
megabytes. The rules are vLLM's (what it needs to serve the directory offline):

- config.json parses to an object;
- weights: every shard named in ``model.safetensors.index.json`` (inside the directory,
  present, its header intact, its size matching the header, holding every tensor the
  index places in it), else every ``*.safetensors`` file, else ``pytorch_model*.bin``
  (pickled: loadable, a warning);
- a tokenizer: tokenizer.json, tokenizer.model, tekken.json (Mistral's tokenizer, which
  vLLM loads with ``--tokenizer-mode mistral``), vocab.json+merges.txt or vocab.txt, not
  empty;
- a chat template (chat_template.jinja/.json or tokenizer_config.json ``chat_template``)
  for generative architectures, when the caller requires one.

:func:`check_model_dir` lists every problem (``prai bundle create``, ``prai doctor``);
:func:`inspect_model_dir` raises the first one (``prai serve``'s preflight). Both run the
same scan, so the commands never disagree. :func:`read_model_facts` reads only config.json
and sizes, for ``prai render`` on a machine where the weights may be absent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from math import prod
from pathlib import Path
from typing import Any

from prai.errors import ModelError, ModelFactsError, ModelNotLocal
from prai.modelfiles.safetensors_header import SafetensorsHeaderError, read_header

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: Sets of files of which one complete set makes a tokenizer vLLM loads offline.
TOKENIZER_SETS: tuple[tuple[str, ...], ...] = (
    ("tokenizer.json",),
    ("tokenizer.model",),
    ("tekken.json",),
    ("vocab.json", "merges.txt"),
    ("vocab.txt",),
)
_TOKENIZER_NAMES = "tokenizer.json, tokenizer.model, tekken.json, vocab.json+merges.txt or vocab.txt"
_GENERATIVE = re.compile(r"(ForCausalLM|ForConditionalGeneration|LMHeadModel)$")
_INDEX = "model.safetensors.index.json"
_PERMISSION_HINT = (
    "make the model files readable by the serving user: chmod -R g+rX (and group 0 on OpenShift); "
    "with SELinux, relabel the directory (seed §7)"
)
_COPY_HINT = "copy the model directory again from its verified source (prai bundle load)"


@dataclass
class ModelFacts:
    """What PrAI knows about a base model directory (the one record every room uses).

    Attributes:
        path: the directory (absolute after :func:`inspect_model_dir`).
        config: config.json as a dict.
        name: config ``_name_or_path``, else the directory name.
        names: every name the model is known by (``name`` and the directory name).
        architectures: ``config["architectures"]``.
        model_type: ``config["model_type"]``.
        hidden_size / num_hidden_layers / vocab_size: from config (or its ``text_config``).
        head_dim: attention head size in elements (config ``head_dim`` or hidden/heads).
        max_context_tokens: longest context the config allows (tokens:
            ``max_position_embeddings``, ``max_seq_len`` or ``n_positions``).
        dtype: config ``torch_dtype``/``dtype``, else the commonest tensor dtype.
        parameter_count: elements in all tensors of the safetensors headers.
        linear_shapes: module name (``model.layers.0.self_attn.q_proj``) → weight shape
            ``(out_features, in_features)``, from safetensors headers.
        weight_files: weight file names relative to ``path``.
        weight_bytes: bytes of the weight files (render: the index's ``total_size`` when
            the files are absent); None when unknown.
        total_bytes: bytes the model occupies on a volume (render's PVC size).
        has_chat_template: a chat template is present.
        warnings: non-fatal findings, one line each.
    """

    path: Path
    config: dict[str, Any]
    name: str = ""
    names: tuple[str, ...] = ()
    # from config.json (or its text_config)
    architectures: list[str] = field(default_factory=list)
    model_type: str | None = None
    hidden_size: int | None = None
    head_dim: int | None = None
    num_hidden_layers: int | None = None
    vocab_size: int | None = None
    max_context_tokens: int | None = None
    dtype: str | None = None
    # from the safetensors headers and the files
    parameter_count: int | None = None
    linear_shapes: dict[str, tuple[int, int]] = field(default_factory=dict)
    weight_files: list[str] = field(default_factory=list)
    weight_bytes: int | None = None
    total_bytes: int = 0
    has_chat_template: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Problem:
    message: str
    hint: str | None = None
    missing_shard: bool = False


@dataclass
class ModelDirReport:
    """Result of :func:`check_model_dir`.

    Attributes:
        path: the directory checked.
        facts: what was learned (partial when there are problems).
        issues: blocking findings in the order found, each with a fix.
        warnings: non-blocking findings.
        missing_shards / shard_count: shards named by the index but absent, of how many.
    """

    path: Path
    facts: ModelFacts
    issues: list[_Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    missing_shards: list[str] = field(default_factory=list)
    shard_count: int = 0

    @property
    def problems(self) -> list[str]:
        """Each blocking finding as one line naming the file and the fix."""
        return [p.message for p in self.issues]

    @property
    def ok(self) -> bool:
        return not self.issues

    def raise_for_problems(self) -> None:
        """Raise every problem at once (``prai bundle create``).

        Raises:
            ModelError: one line per problem (exit code 4).
        """
        if self.issues:
            raise ModelError(
                f"model directory {self.path} is not complete:\n" + "\n".join(f"- {p}" for p in self.problems)
            )

    def raise_first(self) -> None:
        """Raise the first problem only (``prai serve``: one line and a hint).

        Raises:
            ModelError: the first problem; missing shards are counted in one line.
        """
        if not self.issues:
            return
        first = self.issues[0]
        if first.missing_shard:
            shown = ", ".join(self.missing_shards[:3])
            if len(self.missing_shards) > 3:
                shown += f" and {len(self.missing_shards) - 3} more"
            raise ModelError(
                f"{self.path}: {len(self.missing_shards)} of {self.shard_count} weight shards named in "
                f"{_INDEX} are missing: {shown}",
                hint=first.hint,
            )
        raise ModelError(f"{self.path}: {first.message}", hint=first.hint)


def names_local_path(ref: str) -> bool:
    """True when ``ref`` can only mean a local path, whether or not it exists.

    It starts with ``/``, ``./``, ``../`` or ``~``, has more than one ``/`` (hub repo ids
    have one), exists here, or its first folder exists in the current directory (so
    ``store/modle``, a typo under an existing ``store/``, is a path, not the hub repo
    ``store/modle``). This is the one rule of every command that takes a model, tokenizer
    or adapter directory (``prai serve``, ``prai doctor``, ``prai bundle create``, the
    adapter-loading middleware).
    """
    if "://" in ref:
        return False
    if ref.startswith(("/", "./", "../", "~")) or ref.count("/") > 1:
        return True
    path = Path(ref)
    if path.exists():
        return True
    first = path.parts[0] if path.parts else ""
    return "/" in ref and bool(first) and Path(first).is_dir()


def looks_like_remote(ref: str) -> bool:
    """True for hub repo ids (``org/name``) and URLs, which vLLM would download.

    A ref that :func:`names_local_path` (it exists, or its first folder does) is never
    remote: a relative path is a local directory, never a hub repo id.
    """
    if "://" in ref:
        return True
    return bool(_REPO_ID.match(ref)) and not names_local_path(ref)


def where(ref: str | Path) -> str:
    """``ref`` as a message names it: a relative path with the directory it starts from."""
    path = Path(ref).expanduser()
    return str(ref) if path.is_absolute() else f"{ref} (relative to {Path.cwd()})"


MISSING_DIR_HINT = (
    "check the path for typos (ls -lah); in a closed network the model must be a local "
    "directory (prai bundle load)"
)
MISSING_ADAPTER_DIR_HINT = (
    "check the path for typos (ls -lah); in a closed network the adapter must be a local "
    "directory (prai bundle load)"
)


def missing_dir(flag: str, ref: str) -> tuple[str, str]:
    """(message, hint) for a model, tokenizer or adapter directory that does not exist.

    One answer for every command: ``{flag}{ref} (relative to CWD): no such directory``,
    ``; FIRST does not exist either`` when its parent is missing too, and, for a ref shaped
    like a hub repo id (``org/name``), a hint that nothing is downloaded in a closed
    network; a URL is called a URL; an adapter's hint says adapter. ``flag`` is the option
    as typed, with its trailing space or ``=`` (``"--model "``, ``"--adapter a="``).
    """
    if "://" in ref:
        return (f"{flag}{ref}: is a URL, not a local directory",
                "bring it in as a directory (prai bundle load) and pass its path; in a closed "
                "network nothing is downloaded (seed §8)")
    path = Path(ref).expanduser()
    parent = path.parent
    extra = "" if parent == Path(".") or parent.is_dir() else f"; {parent} does not exist either"
    hint = MISSING_ADAPTER_DIR_HINT if "adapter" in flag or "lora" in flag else MISSING_DIR_HINT
    if looks_like_remote(ref):
        hint = (f"if {ref} is a hub repo id: nothing is downloaded in a closed network; bring it "
                "in as a directory (prai bundle load) and pass its path")
    return f"{flag}{where(ref)}: no such directory{extra}", hint


def _inside(root: Path, name: object) -> bool:
    """True when ``name`` is a plain relative path that stays inside ``root``."""
    if not isinstance(name, str) or not name or Path(name).is_absolute():
        return False
    return (root / name).resolve().is_relative_to(root.resolve())


def _json_problem(path: Path) -> tuple[Any, _Problem | None]:
    """(parsed JSON, None) or (None, the problem); (None, None) when the file is absent."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except PermissionError:
        return None, _Problem(f"{path.name}: permission denied", _PERMISSION_HINT)
    except json.JSONDecodeError as exc:
        return None, _Problem(f"{path.name}: not valid JSON (line {exc.lineno}); the copy is damaged, copy it again",
                              _COPY_HINT)
    except (OSError, UnicodeDecodeError) as exc:
        return None, _Problem(f"{path.name}: unreadable ({exc.__class__.__name__}); copy it again", _COPY_HINT)
    return data, None


def _has_chat_template(root: Path) -> bool:
    if (root / "chat_template.jinja").is_file() or (root / "chat_template.json").is_file():
        return True
    tc, _ = _json_problem(root / "tokenizer_config.json")
    return bool(isinstance(tc, dict) and tc.get("chat_template"))


def _tokenizer_problem(root: Path) -> str | None:
    found = [group for group in TOKENIZER_SETS if all((root / n).is_file() for n in group)]
    if not found:
        return f"no tokenizer files ({_TOKENIZER_NAMES}); copy the tokenizer files with the model"
    empty = [n for group in found for n in group if (root / n).stat().st_size == 0]
    if empty and len(found) == 1:
        return f"{empty[0]} is empty (a failed copy?); copy it again"
    return None


def facts_from_config(root: Path, config: dict[str, Any]) -> ModelFacts:
    """ModelFacts with what config.json (``config``) says about the model in ``root``; no
    file is read (sizes, shapes and weight files stay empty)."""
    text_cfg: dict[str, Any] = config["text_config"] if isinstance(config.get("text_config"), dict) else {}

    def cfg(*keys: str) -> Any:
        for k in keys:
            for c in (config, text_cfg):
                if isinstance(c.get(k), int | str) and not isinstance(c.get(k), bool):
                    return c[k]
        return None

    raw_archs = config.get("architectures")
    archs = [raw_archs] if isinstance(raw_archs, str) else [str(a) for a in raw_archs or [] if isinstance(a, str)]
    text = text_cfg or config
    heads, hidden = text.get("num_attention_heads"), text.get("hidden_size")
    head_dim = text.get("head_dim") or (hidden // heads if isinstance(heads, int) and isinstance(hidden, int)
                                        and heads else None)
    dirname = root.resolve().name
    nop = config.get("_name_or_path")
    name = str(nop) if isinstance(nop, str) and nop else dirname
    dtype = cfg("torch_dtype", "dtype")
    context = cfg("max_position_embeddings", "max_seq_len", "n_positions")
    return ModelFacts(
        path=root,
        config=config,
        name=name,
        names=tuple(sorted({dirname, name})),
        architectures=archs,
        model_type=config.get("model_type") if isinstance(config.get("model_type"), str) else None,
        dtype=str(dtype) if dtype is not None else None,
        max_context_tokens=int(context) if isinstance(context, int) else None,
        hidden_size=cfg("hidden_size", "d_model", "n_embd"),
        num_hidden_layers=cfg("num_hidden_layers", "n_layer"),
        vocab_size=cfg("vocab_size"),
        head_dim=int(head_dim) if isinstance(head_dim, int) and head_dim else None,
    )


def _weights(root: Path, report: ModelDirReport) -> tuple[list[str], dict[str, str]]:
    """Weight file names to read, and the index's tensor → shard map ({} without index)."""
    index_path = root / _INDEX
    if index_path.exists():
        index, problem = _json_problem(index_path)
        if problem is not None:
            report.issues.append(problem)
            return [], {}
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            report.issues.append(_Problem(f"{_INDEX}: no weight_map; the copy is damaged, copy it again", _COPY_HINT))
            return [], {}
        shards = sorted({str(s) for s in weight_map.values()})
        escaping = [s for s in shards if not _inside(root, s)]
        if escaping:
            report.issues.append(_Problem(
                f"{_INDEX}: weight_map names a file outside the model directory ({escaping[0]}); "
                "the index is damaged or hostile, copy the model again from its source",
                "the index is damaged or hostile: copy the model directory again from its source",
            ))
            shards = [s for s in shards if s not in escaping]
        report.shard_count = len(shards)
        for shard in shards:
            if not (root / shard).is_file():
                report.missing_shards.append(shard)
                report.issues.append(_Problem(f"{shard} is missing (named in {_INDEX}); copy every shard",
                                              "copy every shard with the index", missing_shard=True))
        return [s for s in shards if (root / s).is_file()], {str(k): str(v) for k, v in weight_map.items()}
    single = sorted(p.name for p in root.glob("*.safetensors") if p.is_file())
    if single:
        return single, {}
    bins = sorted(p.name for p in root.glob("pytorch_model*.bin"))
    if bins:
        report.warnings.append("weights are pickle .bin files; prefer safetensors (safe to load)")
        return bins, {}
    report.issues.append(_Problem(
        f"no weights: neither *.safetensors nor {_INDEX} (with its shards) nor pytorch_model*.bin "
        "is in the directory",
        "copy the weight files with config.json",
    ))
    return [], {}


def check_model_dir(path: str | Path, *, require_chat_template: bool | None = None) -> ModelDirReport:
    """Check that a Hugging Face model directory is complete enough for vLLM to serve.

    The rules are in the module docstring.

    Args:
        path: the model directory.
        require_chat_template: None = only for generative architectures (``*ForCausalLM``…),
            True/False to force.

    Returns:
        A report listing every problem; ``raise_for_problems()`` / ``raise_first()`` turn
        them into a ModelError (exit code 4).

    Raises:
        ModelError: ``path`` is not a directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"model directory {root} does not exist or is not a directory")
    report = ModelDirReport(root, ModelFacts(path=root, config={}))
    config, problem = _json_problem(root / "config.json")
    if problem is not None:
        report.issues.append(problem)
    elif config is None:
        report.issues.append(_Problem(
            "config.json is missing (is this the model directory?); copy it from the model's original directory",
            "pass the directory that holds config.json",
        ))
    elif not isinstance(config, dict):
        report.issues.append(_Problem("config.json: not a JSON object; copy it again", _COPY_HINT))
    config = config if isinstance(config, dict) else {}
    facts = facts_from_config(root, config)
    report.facts = facts

    weight_files, weight_map = _weights(root, report)
    dtypes: dict[str, int] = {}
    params = 0
    total = 0
    for wf in weight_files:
        f = root / wf
        if not wf.endswith(".safetensors"):
            total += f.stat().st_size
            continue
        try:
            tensors = read_header(f)
        except SafetensorsHeaderError as exc:
            report.issues.append(_Problem(f"{wf}: damaged safetensors file ({exc}); copy it again", _COPY_HINT))
            continue
        except PermissionError:
            report.issues.append(_Problem(f"{wf}: permission denied", _PERMISSION_HINT))
            continue
        except OSError as exc:
            report.issues.append(_Problem(f"{wf}: unreadable ({exc.strerror}); copy it again", _COPY_HINT))
            continue
        total += f.stat().st_size
        for name, info in tensors.items():
            params += prod(info.shape)
            dtypes[info.dtype] = dtypes.get(info.dtype, 0) + 1
            if name.endswith(".weight") and len(info.shape) == 2:
                facts.linear_shapes[name[: -len(".weight")]] = (info.shape[0], info.shape[1])
        missing = [t for t, s in weight_map.items() if s == wf and t not in tensors]
        if missing:
            report.issues.append(_Problem(
                f"{wf}: {len(missing)} tensor(s) named in the index are not in the shard "
                f"(first: {missing[0]}); the shard is from another revision, copy it again",
                _COPY_HINT,
            ))
    facts.weight_files = weight_files
    facts.weight_bytes = total
    facts.total_bytes = total
    facts.parameter_count = params or None
    if facts.dtype is None and dtypes:
        facts.dtype = max(dtypes, key=lambda d: dtypes[d])

    tokenizer = _tokenizer_problem(root)
    if tokenizer:
        report.issues.append(_Problem(
            tokenizer, "copy the tokenizer files with the weights; vLLM would otherwise try to download them (seed §8)"
        ))
    facts.has_chat_template = _has_chat_template(root)
    need_template = (
        require_chat_template
        if require_chat_template is not None
        else any(_GENERATIVE.search(a) for a in facts.architectures)
    )
    if need_template and not facts.has_chat_template:
        report.issues.append(_Problem(
            "no chat template (chat_template.jinja, or chat_template in tokenizer_config.json); "
            "/v1/chat/completions will fail: copy the template or add one",
            "copy chat_template.jinja with the model, or pass --chat-template FILE",
        ))
    return report


def resolve_model_dir(ref: str) -> Path:
    """The local model directory named by ``--model``.

    A relative ``ref`` starts from the current directory; it is a hub repo id only when
    :func:`looks_like_remote` says so (the rule of :func:`names_local_path`).

    Raises:
        ModelNotLocal: ``ref`` is a hub repo id or URL and no such local directory exists.
        ModelError: the path does not exist (named with the directory it is relative to)
            or is not a directory.
    """
    path = Path(ref).expanduser()
    if not path.exists():
        message, hint = missing_dir("--model ", ref)
        raise (ModelNotLocal if looks_like_remote(ref) else ModelError)(message, hint=hint)
    if not path.is_dir():
        raise ModelError(f"--model {ref}: not a directory (pass the directory that holds config.json)")
    return path.resolve()


def inspect_model_dir(ref: str, *, need_chat_template: bool = True) -> ModelFacts:
    """Check a ``--model`` directory (the rules of :func:`check_model_dir`) and return its facts.

    A missing chat template is a warning here, not an error (``prai serve`` accepts
    ``--chat-template FILE``).

    Args:
        ref: the value of ``--model``.
        need_chat_template: warn when no chat template is present (generative models).

    Raises:
        ModelNotLocal: a hub repo id or URL.
        ModelError: the first problem :func:`check_model_dir` finds, naming the file and fix.
    """
    path = resolve_model_dir(ref)
    report = check_model_dir(path, require_chat_template=False)
    report.raise_first()
    facts = report.facts
    if need_chat_template and not facts.has_chat_template:
        facts.warnings.append(
            f"{path}: no chat template (tokenizer_config.json or chat_template.jinja); "
            "/v1/chat/completions will fail unless you pass --chat-template FILE"
        )
    auto_map = facts.config.get("auto_map")
    if isinstance(auto_map, dict) and any("--" in str(v) for v in auto_map.values()):
        facts.warnings.append(
            f"{path / 'config.json'}: auto_map points at code in another hub repo; it cannot be fetched offline"
        )
    return facts


def inspect_tokenizer_dir(ref: str) -> Path:
    """Check a ``--tokenizer`` value: a local directory with tokenizer files.

    Raises:
        ModelNotLocal: a hub repo id or URL.
        ModelError: missing directory or no usable tokenizer files.
    """
    path = Path(ref).expanduser()
    if not path.is_dir():
        if path.exists():
            raise ModelError(f"--tokenizer {ref}: not a directory (pass the directory that holds the tokenizer files)")
        message, hint = missing_dir("--tokenizer ", ref)
        raise (ModelNotLocal if looks_like_remote(ref) else ModelError)(message, hint=hint)
    problem = _tokenizer_problem(path)
    if problem:
        raise ModelError(f"--tokenizer {ref}: {problem}")
    return path.resolve()


def tree_bytes(root: Path) -> tuple[int, int]:
    """(all file bytes, safetensors bytes) below ``root``; symlinks are not followed."""
    total = weights = 0
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            n = p.stat().st_size
            total += n
            if p.suffix == ".safetensors":
                weights += n
    return total, weights


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A small JSON file that must hold an object (config.json, adapter_config.json, an index).

    Raises:
        ModelFactsError: missing, unreadable, not JSON, or not an object.
    """
    data, problem = _json_problem(path)
    if problem is not None:
        raise ModelFactsError(f"{path.parent}/{problem.message}", hint=problem.hint)
    if data is None:
        raise ModelFactsError(f"{path}: no {what} here")
    if not isinstance(data, dict):
        raise ModelFactsError(f"{path}: {what} must be a JSON object")
    return data


def read_model_facts(model_dir: Path) -> ModelFacts:
    """config.json and sizes only (``prai render``: the weights may live elsewhere).

    ``weight_bytes`` is the safetensors index's ``metadata.total_size`` when larger than
    the files present, else the sum of ``*.safetensors`` sizes (None when neither);
    ``total_bytes`` counts the files present plus indexed weights absent here (bytes).

    Raises:
        ModelFactsError: the directory or config.json is missing or unreadable.
    """
    if not model_dir.is_dir():
        raise ModelFactsError(f"{model_dir}: model directory not found")
    facts = facts_from_config(model_dir, read_json_object(model_dir / "config.json", "config.json"))
    total, weights = tree_bytes(model_dir)
    weight_bytes: int | None = weights or None
    index = model_dir / _INDEX
    if index.is_file():
        meta = read_json_object(index, "safetensors index").get("metadata") or {}
        size = meta.get("total_size") if isinstance(meta, dict) else None
        if isinstance(size, int) and size > 0:
            # total_size counts tensor bytes only; shard headers are small. Files absent
            # here still occupy the volume in the cluster.
            if size > weights:
                total += size - weights
            weight_bytes = max(size, weights)
    facts.weight_bytes = weight_bytes
    facts.total_bytes = total
    return facts


__all__ = [
    "MISSING_ADAPTER_DIR_HINT",
    "MISSING_DIR_HINT",
    "TOKENIZER_SETS",
    "ModelDirReport",
    "ModelFacts",
    "check_model_dir",
    "facts_from_config",
    "inspect_model_dir",
    "inspect_tokenizer_dir",
    "looks_like_remote",
    "missing_dir",
    "names_local_path",
    "read_json_object",
    "read_model_facts",
    "resolve_model_dir",
    "tree_bytes",
    "where",
]
