"""`prai serve` arguments: vLLM's own flags, the ones PrAI checks parsed, the rest passed on.

Flag names and forms follow ``vllm serve`` (vLLM 0.32 engine/frontend args): ``--lora-modules``
takes ``name=path`` items or JSON objects ``{"name", "path", "base_model_name"}``.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from prai.errors import UsageError


@dataclass
class LoraModule:
    """One ``--lora-modules`` item."""

    name: str
    path: str
    base_model_name: str | None = None

    def to_vllm(self) -> str:
        """The JSON form vLLM accepts (and OpenShift AI renders)."""
        data = {"name": self.name, "path": self.path}
        if self.base_model_name:
            data["base_model_name"] = self.base_model_name
        return json.dumps(data, ensure_ascii=False)


@dataclass
class ServeArgs:
    """Parsed `prai serve` arguments.

    Attributes:
        model: ``--model`` (or the first positional argument, as in ``vllm serve MODEL``).
        served_model_names: ``--served-model-name`` values (default: the directory name).
        passthrough: every other argument, handed to vLLM unchanged.
    """

    model: str
    served_model_names: list[str] = field(default_factory=list)
    enable_lora: bool = False
    lora_modules: list[LoraModule] = field(default_factory=list)
    max_loras: int | None = None
    max_lora_rank: int | None = None
    max_model_len: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    runner: str | None = None
    tokenizer: str | None = None
    passthrough: list[str] = field(default_factory=list)

    @property
    def is_pooling(self) -> bool:
        """True for embedding/pooling models (``--runner pooling`` or ``--task embed``)."""
        if self.runner == "pooling":
            return True
        for i, a in enumerate(self.passthrough):
            if a in ("--task", "--convert") and i + 1 < len(self.passthrough):
                return self.passthrough[i + 1] in ("embed", "embedding", "classify", "score", "reward")
        return False


def _parse_lora(item: str) -> LoraModule:
    item = item.strip()
    if item.startswith("{"):
        try:
            data = json.loads(item)
            return LoraModule(str(data["name"]), str(data["path"]), data.get("base_model_name"))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UsageError(f'--lora-modules {item!r}: JSON form needs {{"name": ..., "path": ...}}') from None
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
        raise UsageError(f"--lora-modules {item!r}: use NAME=PATH or a JSON object")
    return LoraModule(name, path)


def _port(value: str) -> int:
    port = int(value) if value.strip().isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port {value}: not a TCP port (1-65535)")
    return port


def _positive(value: str) -> int:
    n = int(value) if value.strip().isdigit() else 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value}: not a whole number of at least 1")
    return n


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse writes "argument --port: --port abc: …"; the value's own message names the flag
        head, sep, rest = message.partition(": ")
        if sep and head.startswith("argument ") and rest.startswith(head.removeprefix("argument ") + " "):
            message = rest
        raise UsageError(f"prai serve: {message}", hint="see `prai serve --help`")


def build_parser() -> argparse.ArgumentParser:
    """The parser for the flags PrAI inspects; unknown flags are passed to vLLM."""
    p = _Parser(
        prog="prai serve",
        description=(
            "Serve a local model directory with vLLM's OpenAI-compatible server, after PrAI's "
            "preflight (model complete, adapters fit, closed-network environment). Flags are "
            "vLLM's; any flag not listed here is passed to vLLM unchanged."
        ),
        allow_abbrev=False,
    )
    p.add_argument("model_pos", nargs="?", metavar="MODEL_DIR", help="same as --model")
    p.add_argument("--model", help="local model directory (a hub repo id is refused)")
    p.add_argument("--served-model-name", nargs="+", default=[], help="name(s) clients put in `model`")
    p.add_argument("--enable-lora", action="store_true", help="enable LoRA adapters (implied by --lora-modules)")
    p.add_argument("--lora-modules", nargs="+", default=[], help="NAME=PATH or JSON {name, path, base_model_name}")
    p.add_argument("--max-loras", type=_positive, help="adapters in one batch")
    p.add_argument(
        "--max-lora-rank", type=int, help="default: largest adapter rank, rounded up to a value vLLM accepts"
    )
    p.add_argument("--max-model-len", help="context length (tokens)")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    p.add_argument("--runner", choices=["auto", "generate", "pooling", "draft"], help="vLLM runner")
    p.add_argument("--tokenizer", help="local tokenizer directory (default: the model's)")
    return p


def _flag_like(token: str) -> bool:
    """``--x`` / ``-x``, but not a negative number (``--seed -1`` passes its value)."""
    if not token.startswith("-") or token == "-":
        return False
    try:
        float(token)
    except ValueError:
        return True
    return False


def split_argv(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[list[str], list[str]]:
    """(what ``parser`` parses, what goes to vLLM unchanged).

    A flag the parser does not know is vLLM's: it goes to vLLM with every value that follows
    it up to the next flag (``--gpu-memory-utilization 0.9``, ``--api-key a b``), so such a
    value is never taken for the positional MODEL_DIR. The positional model therefore comes
    before vLLM's own flags (as in ``vllm serve MODEL [flags]``), or is given as ``--model``.
    Known flags keep their own arity (``--served-model-name a b``, ``--enable-lora``).
    """
    actions = parser._option_string_actions  # the flags PrAI inspects and their arity
    ours: list[str] = []
    theirs: list[str] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        i += 1
        if not _flag_like(token):
            ours.append(token)  # the positional model (argparse refuses a second one)
            continue
        name, has_value, _ = token.partition("=")
        action = actions.get(name)
        target = theirs if action is None else ours
        target.append(token)
        if has_value or (action is not None and action.nargs == 0):
            continue
        many = action is None or action.nargs in ("+", "*")
        while i < len(argv) and not _flag_like(argv[i]):
            target.append(argv[i])
            i += 1
            if not many:
                break
    return ours, theirs


def parse_serve_args(argv: list[str]) -> ServeArgs:
    """Parse `prai serve` arguments (flags PrAI does not inspect go to vLLM: :func:`split_argv`).

    Raises:
        UsageError: no model given, a model given twice, or a malformed ``--lora-modules`` item.
    """
    parser = build_parser()
    ours, rest = split_argv(parser, argv)
    ns = parser.parse_args(ours)
    model = ns.model or ns.model_pos
    if not model:
        stray = [t for t in rest if not _flag_like(t) and Path(t).expanduser().is_dir()]
        if stray:
            raise UsageError(
                f"prai serve: no model given ({stray[0]} follows a vLLM flag, so it was read as that flag's value)",
                hint=f"put the model first (prai serve {stray[0]} …) or pass --model {stray[0]}",
            )
        raise UsageError("prai serve: no model given", hint="pass --model /path/to/model-directory")
    if ns.model and ns.model_pos:
        raise UsageError(
            f"prai serve: the model is given twice ({ns.model_pos} and --model {ns.model})", hint="keep one of them"
        )
    if ns.max_model_len is not None and ns.max_model_len.lstrip("-").isdigit() and int(ns.max_model_len) < 1:
        raise UsageError(f"--max-model-len {ns.max_model_len}: must be at least 1")
    modules = [_parse_lora(x) for x in ns.lora_modules]
    names = [m.name for m in modules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"--lora-modules: adapter name {dupes[0]!r} given twice")
    return ServeArgs(
        model=model,
        served_model_names=list(ns.served_model_name),
        enable_lora=bool(ns.enable_lora or modules),
        lora_modules=modules,
        max_loras=ns.max_loras,
        max_lora_rank=ns.max_lora_rank,
        max_model_len=ns.max_model_len,
        host=ns.host,
        port=ns.port,
        runner=ns.runner,
        tokenizer=ns.tokenizer,
        passthrough=list(rest),
    )
