"""The one place that reads ``os.environ``.

Every environment variable PrAI understands is a field here with its meaning. Code
elsewhere calls :func:`get_settings` (cached) or builds :class:`Settings` from a mapping
of its own (tests). Variables meant for child processes (vLLM's, Hugging Face's) are
composed in :mod:`prai.engine.environment`, which takes this mapping as input too.
"""

from __future__ import annotations

import os
import pwd
import socket
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict


def _default_cache_dir(env: Mapping[str, str]) -> Path:
    if env.get("PRAI_CACHE_DIR"):
        return Path(env["PRAI_CACHE_DIR"]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "prai"
    home = env.get("HOME") or str(Path.home())
    return Path(home).expanduser() / ".cache" / "prai"


class Settings(BaseModel):
    """PrAI's environment, read once.

    Attributes:
        debug: PRAI_DEBUG=1 shows tracebacks and full engine logs.
        cache_dir: PRAI_CACHE_DIR (default ``$XDG_CACHE_HOME/prai`` or ``~/.cache/prai``):
            the demo model, engine HOME/HF_HOME when unset.
        ci: CI=true (tests that need PostgreSQL/Redis must run, never skip).
        engine_ready_timeout_s: PRAI_ENGINE_READY_TIMEOUT_S, seconds to wait for vLLM's
            /health after launch (default 600).
        cpu_kvcache_gib: PRAI_CPU_KVCACHE_GIB, overrides the KV-cache size chosen from
            free memory on CPU (GiB).
        environ: the mapping these were read from, for composing child environments.
        registry_username: PRAI_REGISTRY_USERNAME, user for `prai bundle load oci://`.
        registry_password: PRAI_REGISTRY_PASSWORD (secret; never logged).
        registry_authfile: REGISTRY_AUTH_FILE, a containers-auth.json (podman/skopeo login).
        xdg_runtime_dir: XDG_RUNTIME_DIR; podman login writes ``containers/auth.json`` there.
        docker_config: DOCKER_CONFIG, the directory of docker login's ``config.json``
            (default ``~/.docker``).
        aws_s3_endpoint: AWS_S3_ENDPOINT, the S3 endpoint URL as an OpenShift AI Data
            Connection names it (`prai bundle load s3://` uses it when no --endpoint-url).
        sign_key_password: PRAI_SIGN_KEY_PASSWORD, passphrase of an encrypted
            `prai bundle create --sign-key` (secret; never logged).
        api_key: PRAI_API_KEY, the API key `prai bench` / `prai eval` send when no
            --api-key is given (secret; never logged or written).
        actor: PRAI_ACTOR, who `prai model` records as having made a change (default:
            ``USER@HOST``; CI pipelines set e.g. ``gitops-bot``).
        kitchen: PRAI_KITCHEN, the kitchen.yaml that `prai gateway`, `prai keys`,
            `prai audit`, `prai usage`, `prai model` and `prai admin` use when no ``-c`` is given (see
            :func:`prai.cli._kitchen.resolve_kitchen`).
        doctor_timeout_s: PRAI_DOCTOR_TIMEOUT_S, seconds an endpoint may stay silent before
            its `prai doctor` check FAILs (default 5).
        progress_interval_s: PRAI_PROGRESS_INTERVAL_S, seconds between two plain progress
            lines when the output is not a terminal (default 10); also between `prai up`'s
            and `prai demo`'s "still starting" lines.
        serve_stop_grace_s: PRAI_SERVE_STOP_GRACE_S, seconds `prai serve` gives vLLM to exit
            after forwarding SIGINT/SIGTERM/SIGHUP before it kills vLLM's process group
            (default 10; 0 kills at once).
        vllm_entry: PRAI_VLLM_ENTRY, a Python module `prai serve` runs (``python -m``) in place
            of vLLM's OpenAI server entry point, with the same arguments. For tests only (a
            fake vLLM, ``tests._support.fake_vllm``); unset in production.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    debug: bool = False
    cache_dir: Path
    ci: bool = False
    engine_ready_timeout_s: float = 600.0
    cpu_kvcache_gib: float | None = None
    serve_context: str | None = None
    environ: dict[str, str]
    registry_username: str | None = None
    registry_password: str | None = None
    registry_authfile: Path | None = None
    xdg_runtime_dir: Path | None = None
    docker_config: Path | None = None
    aws_s3_endpoint: str | None = None
    sign_key_password: str | None = None
    api_key: str | None = None
    actor: str = "unknown"
    kitchen: Path | None = None
    doctor_timeout_s: float = 5.0
    progress_interval_s: float = 10.0
    serve_stop_grace_s: float = 10.0
    vllm_entry: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from an environment mapping (``os.environ`` in production)."""

        def flag(name: str) -> bool:
            return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}

        kv = env.get("PRAI_CPU_KVCACHE_GIB")
        return cls(
            debug=flag("PRAI_DEBUG"),
            cache_dir=_default_cache_dir(env),
            ci=flag("CI"),
            engine_ready_timeout_s=float(env.get("PRAI_ENGINE_READY_TIMEOUT_S", "600")),
            cpu_kvcache_gib=float(kv) if kv else None,
            serve_context=env.get("PRAI_SERVE_CONTEXT") or None,
            environ=dict(env),
            registry_username=env.get("PRAI_REGISTRY_USERNAME") or None,
            registry_password=env.get("PRAI_REGISTRY_PASSWORD") or None,
            registry_authfile=Path(env["REGISTRY_AUTH_FILE"]) if env.get("REGISTRY_AUTH_FILE") else None,
            xdg_runtime_dir=Path(env["XDG_RUNTIME_DIR"]) if env.get("XDG_RUNTIME_DIR") else None,
            docker_config=Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else None,
            aws_s3_endpoint=env.get("AWS_S3_ENDPOINT") or None,
            sign_key_password=env.get("PRAI_SIGN_KEY_PASSWORD") or None,
            api_key=env.get("PRAI_API_KEY") or None,
            actor=env.get("PRAI_ACTOR") or _default_actor(env),
            kitchen=Path(env["PRAI_KITCHEN"]).expanduser() if env.get("PRAI_KITCHEN") else None,
            doctor_timeout_s=_positive(env, "PRAI_DOCTOR_TIMEOUT_S", 5.0),
            progress_interval_s=_positive(env, "PRAI_PROGRESS_INTERVAL_S", 10.0),
            serve_stop_grace_s=_non_negative(env, "PRAI_SERVE_STOP_GRACE_S", 10.0),
            vllm_entry=env.get("PRAI_VLLM_ENTRY") or None,
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from ``env[name]``; ``default`` when unset or not one."""
    try:
        value = float(env.get(name) or default)
    except ValueError:
        return default
    return value if value > 0 else default


def _non_negative(env: Mapping[str, str], name: str, default: float) -> float:
    """A number of seconds ≥ 0 from ``env[name]``; ``default`` when unset or not one."""
    try:
        value = float(env.get(name) or default)
    except ValueError:
        return default
    return value if value >= 0 else default


def _default_actor(env: Mapping[str, str]) -> str:
    user = env.get("USER") or env.get("LOGNAME")
    if not user:
        try:
            user = pwd.getpwuid(os.getuid()).pw_name
        except KeyError:  # an OpenShift random UID has no passwd entry
            user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the process environment, read on first use."""
    return Settings.from_env(os.environ)


__all__ = ["Settings", "get_settings"]
