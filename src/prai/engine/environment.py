"""The engine's closed-network environment: offline flags, writable caches, CPU tuning.

Sources: Hugging Face offline variables (huggingface_hub ``constants.py``, transformers,
datasets); vLLM's ``VLLM_NO_USAGE_STATS``, ``VLLM_ALLOW_RUNTIME_LORA_UPDATING``,
``VLLM_CPU_KVCACHE_SPACE`` (GiB) and the LD_PRELOAD advice of vLLM's CPU installation
guide (tcmalloc, Intel OpenMP); seed §8 for HOME/HF_HOME on writable paths.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

OFFLINE_VARS: dict[str, str] = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "VLLM_NO_USAGE_STATS": "1",
    "VLLM_DO_NOT_TRACK": "1",
    "DO_NOT_TRACK": "1",
}

_TCMALLOC_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
    "/usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4",
    "/usr/lib64/libtcmalloc_minimal.so.4",
)


def force_offline_in_process() -> None:
    """Set the offline flags in this process (``os.environ``), before any Hugging Face import.

    Called where this process itself starts transformers (the demo model builder); never
    on import. The vLLM process gets the same flags through :func:`engine_environment`.
    """
    for k, v in OFFLINE_VARS.items():
        os.environ[k] = v


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            return True
    except OSError:
        return False


def writable_home(env: Mapping[str, str], cache_dir: Path) -> Path:
    """HOME if it is writable; otherwise a PrAI directory that is.

    On OpenShift, HOME is often ``/`` and the random UID cannot write there, which
    surfaces as ``Permission denied: '/.cache'`` (seed §8).
    """
    home = Path(env.get("HOME") or "/")
    if str(home) != "/" and _writable(home):
        return home
    for candidate in (cache_dir / "home", Path(tempfile.gettempdir()) / "prai-home"):
        if _writable(candidate):
            return candidate
    return Path(tempfile.mkdtemp(prefix="prai-home-"))


def preload_libraries(prefix: str = sys.prefix) -> list[str]:
    """tcmalloc and Intel OpenMP libraries present on this machine (vLLM CPU guide)."""
    found = [p for p in _TCMALLOC_CANDIDATES if Path(p).is_file()][:1]
    iomp = Path(prefix) / "lib" / "libiomp5.so"
    if iomp.is_file():
        found.append(str(iomp))
    return found


def cpu_kvcache_gib(available_bytes: int, override: float | None = None) -> int:
    """KV-cache size for vLLM's CPU backend (GiB): a quarter of available memory, 1..32.

    The override is PRAI_CPU_KVCACHE_GIB.
    """
    if override is not None:
        return max(1, int(override))
    return max(1, min(32, int(available_bytes / 4 / 2**30)))


def engine_environment(
    env: Mapping[str, str],
    *,
    cache_dir: Path,
    cpu: bool,
    available_bytes: int | None = None,
    kvcache_override_gib: float | None = None,
) -> dict[str, str]:
    """The environment for the vLLM process.

    Args:
        env: the parent environment (Settings.environ).
        cache_dir: PrAI's cache directory, used for HF_HOME and caches when unset.
        cpu: the CPU build is installed (adds the KV-cache size and library preloads).
        available_bytes: available memory (bytes), for the KV-cache size.
        kvcache_override_gib: PRAI_CPU_KVCACHE_GIB.

    Returns:
        A new mapping; values the user set explicitly are kept, except the offline flags,
        which are always forced on.
    """
    out = dict(env)
    out.update(OFFLINE_VARS)
    home = writable_home(env, cache_dir)
    out["HOME"] = str(home)
    base = home / ".cache" if home != Path(env.get("HOME") or "/") else cache_dir
    defaults = {
        "HF_HOME": str(base / "huggingface"),
        "XDG_CACHE_HOME": str(base),
        "VLLM_CACHE_ROOT": str(base / "vllm"),
        "TORCHINDUCTOR_CACHE_DIR": str(base / "torchinductor"),
        "TRITON_CACHE_DIR": str(base / "triton"),
        "NUMBA_CACHE_DIR": str(base / "numba"),
        "OUTLINES_CACHE_DIR": str(base / "outlines"),
        "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
        "TOKENIZERS_PARALLELISM": "false",
    }
    for k, v in defaults.items():
        if not env.get(k):
            out[k] = v
    plugins = env.get("VLLM_PLUGINS")
    if plugins is not None and "prai" not in plugins.split(","):
        # An allow-list of vLLM plugins must keep PrAI's CPU LoRA fix (prai.engine.vllm_plugin).
        out["VLLM_PLUGINS"] = ",".join(filter(None, [plugins, "prai"]))
    if cpu:
        if not env.get("VLLM_CPU_KVCACHE_SPACE"):
            out["VLLM_CPU_KVCACHE_SPACE"] = str(cpu_kvcache_gib(available_bytes or 4 * 2**30, kvcache_override_gib))
        preload = [p for p in preload_libraries() if p not in env.get("LD_PRELOAD", "")]
        if preload:
            out["LD_PRELOAD"] = ":".join([*preload, *filter(None, [env.get("LD_PRELOAD")])])
    return out
