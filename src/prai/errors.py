"""PrAI's single error hierarchy.

Every failure a user can cause is a :class:`PraiError` subclass carrying an exit code
(for the CLI), an HTTP status (for servers) and a hint that says what to do. The CLI
prints ``error: <message>`` and ``hint: <hint>`` and exits with ``exit_code``; servers
answer with the OpenAI error envelope built by :func:`prai.openai_api.error_body`.

Exit codes: 1 generic, 2 usage/config, 3 integrity (bundle digests), 4 model/adapter
preflight, 5 environment (missing extra, port busy), 6 network/TLS, 7 engine runtime.
"""

from __future__ import annotations


class PraiError(Exception):
    """Root of every error PrAI raises on purpose.

    Args:
        message: What failed, with the evidence (a path, a field, a value).
        hint: Overrides the class hint when the fix depends on the case.
    """

    exit_code: int = 1
    http_status: int = 500
    error_type: str = "prai_error"
    hint: str = "run the command again with PRAI_DEBUG=1 to see the details"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


# --- configuration and usage -------------------------------------------------------


class ConfigError(PraiError, ValueError):
    """A configuration file or option is invalid (HTTP 400)."""

    exit_code = 2
    http_status = 400
    error_type = "invalid_request_error"
    hint = "fix the named field and run the command again"


class UsageError(PraiError, ValueError):
    """A bad combination of command-line options."""

    exit_code = 2
    http_status = 400
    error_type = "invalid_request_error"
    hint = "see `prai COMMAND --help`"


# --- model directory and adapters (prai serve preflight) ---------------------------


class ModelError(PraiError):
    """The base model directory cannot be served as it is (HTTP 422)."""

    exit_code = 4
    http_status = 422
    error_type = "model_error"
    hint = (
        "copy the complete model directory (config.json, every weight shard, tokenizer files) "
        "and check it with `ls -lah` (seed §7)"
    )


class ModelNotLocal(ModelError):
    """``--model`` is a hub repo id or URL instead of a local directory."""

    hint = (
        "bring the model in as a directory (prai bundle) and pass its path, e.g. "
        "--model /mnt/models; in a closed network vLLM cannot download (seed §8)"
    )


class UnsupportedModel(ModelError):
    """The installed vLLM build cannot serve this architecture or head size."""

    hint = "choose a model whose architecture and head size the installed vLLM build supports"


class AdapterError(PraiError):
    """A LoRA adapter does not fit the base model or the engine's limits (HTTP 400)."""

    exit_code = 4
    http_status = 400
    error_type = "adapter_error"
    hint = (
        "check the adapter's adapter_config.json (r, target_modules, base_model_name_or_path) "
        "against the base model (seed §13)"
    )


# --- environment ---------------------------------------------------------------------


class EngineNotInstalled(PraiError):
    """vLLM (or torch) is not importable in this environment."""

    exit_code = 5
    http_status = 503
    error_type = "engine_unavailable"
    hint = "install the engine extra: bash scripts/install.sh (see README)"


class EngineStartError(PraiError):
    """vLLM exited or did not become healthy in time."""

    exit_code = 7
    http_status = 503
    error_type = "engine_unavailable"
    hint = "read the vLLM log lines above; run with PRAI_DEBUG=1 for the full log"


class PortInUse(PraiError):
    """The port asked for is already bound."""

    exit_code = 5
    http_status = 500
    hint = "choose another --port or stop the process that holds it (ss -ltnp)"


class TasteTestFailed(PraiError):
    """The taste test (味見) did not get usable answers."""

    exit_code = 7
    http_status = 502
    error_type = "upstream_error"
    hint = "look at the engine log; try the base model alone first, then add LoRA (seed §9 Tips)"


__all__ = [
    "AdapterError",
    "ConfigError",
    "EngineNotInstalled",
    "EngineStartError",
    "ModelError",
    "ModelNotLocal",
    "PortInUse",
    "PraiError",
    "TasteTestFailed",
    "UnsupportedModel",
    "UsageError",
]
