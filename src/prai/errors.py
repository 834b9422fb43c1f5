"""PrAI's single error hierarchy.

Every failure a user can cause is a :class:`PraiError` subclass carrying an exit code
(for the CLI), an HTTP status (for servers) and a hint that says what to do. The CLI
prints ``error: <message>`` and ``hint: <hint>`` and exits with ``exit_code``; servers
answer with the OpenAI error envelope built by :func:`prai.openai_api.error_body`.

Exit codes: 1 generic, 2 usage/config (a bad value, a missing path), 3 integrity (bundle
digests), 4 model/adapter preflight, 5 environment (missing extra, port busy, permission
denied), 6 network/TLS, 7 engine runtime, 8 nothing was checked (``prai doctor``), 130
interrupted (Ctrl-C). Domain groups below document their own ranges (bundle 10-18, deploy
20-32, guard 40-42, bench/evals 50-53, lifecycle 60-63).
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
    hint = "run the same command with --help to see its options"


class PathNotFound(UsageError):
    """A path named on the command line does not exist, or is a file where a directory is
    needed (or the reverse)."""

    exit_code = 2
    hint = "check the path for typos; a relative path starts from the current directory"


class KitchenNotFound(UsageError):
    """A command that reads the gateway's store was given no kitchen.yaml and found none."""

    exit_code = 2
    hint = (
        "pass -c kitchen.yaml (the file your `prai gateway -c` runs with), or set "
        "PRAI_KITCHEN=/path/to/kitchen.yaml once for every prai command"
    )


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


class CacheBusy(PraiError):
    """Another PrAI process is using a part of the cache that one process at a time may use."""

    exit_code = 5
    http_status = 500
    hint = "wait for the other process, or give this one its own PRAI_CACHE_DIR"


class PathNotReadable(PraiError):
    """A path named on the command line exists but this user may not read (or write) it."""

    exit_code = 5
    http_status = 500
    hint = "check its permissions (ls -l; chmod u+r, or g+rX for group 0 on OpenShift) and the owner"


# --- gateway -------------------------------------------------------------------------


class GatewayError(PraiError):
    """Base of errors the gateway answers to a client (OpenAI envelope)."""

    exit_code = 1
    http_status = 500
    error_type = "gateway_error"
    hint = "retry; if it persists, ask the kitchen operator to look at the gateway log"


class AuthenticationFailed(GatewayError):
    """Missing, unknown, revoked or expired API key (HTTP 401)."""

    http_status = 401
    error_type = "authentication_error"
    hint = "send `Authorization: Bearer sk-prai-...`; ask your operator for a key (`prai keys create`)"


class ModelNotAllowed(GatewayError):
    """The key's project may not use this model or adapter (HTTP 403)."""

    http_status = 403
    error_type = "permission_error"
    hint = "use a model listed by GET /v1/models for your key, or ask to add it to your project"


class ModelNotFound(GatewayError):
    """No upstream serves the requested model (HTTP 404)."""

    http_status = 404
    error_type = "not_found_error"
    hint = "GET /v1/models lists the models your key may use"


class BadRequest(GatewayError):
    """Malformed JSON or an invalid parameter (HTTP 400)."""

    http_status = 400
    error_type = "invalid_request_error"
    hint = "send a JSON body as in the OpenAI API reference"


class BodyTooLarge(GatewayError):
    """The request body exceeds the gateway's limit (HTTP 413)."""

    http_status = 413
    error_type = "invalid_request_error"
    hint = "send a smaller request (gateway.max_body_bytes in kitchen.yaml)"


class RateLimited(GatewayError):
    """A requests/min, tokens/min or concurrency limit was reached (HTTP 429)."""

    http_status = 429
    error_type = "rate_limit_error"
    hint = "wait for the Retry-After seconds, or ask for a higher limit for your project"

    def __init__(self, message: str, *, retry_after_s: float = 1.0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s


class BudgetExceeded(RateLimited):
    """A day or month token/yen quota of a tenant, project or key is used up (HTTP 429)."""

    error_type = "budget_exceeded"
    hint = "wait until the budget resets (see the message), or ask the operator for a larger budget"


class LimitStoreUnavailable(GatewayError):
    """The limit store (Redis) cannot be reached and the gateway fails closed (HTTP 503)."""

    http_status = 503
    error_type = "service_unavailable"
    hint = "retry in a moment; the operator checks gateway.ratelimit.url (Redis) is reachable"


class KeyStoreUnavailable(GatewayError):
    """A key the gateway has not seen yet cannot be checked: its key database does not answer
    (HTTP 503; keys already known keep working)."""

    http_status = 503
    error_type = "service_unavailable"
    hint = "retry in a moment; the operator checks gateway.storage.url (the key database) is reachable"


class AuditBacklogFull(GatewayError):
    """The audit database is unreachable and the journal's bound is reached (HTTP 503)."""

    http_status = 503
    error_type = "service_unavailable"
    hint = (
        "retry later; the operator restores gateway.storage.url (records wait in the journal, "
        "bound gateway.storage.journal_max_records)"
    )


class UpstreamError(GatewayError):
    """The upstream answered badly or the connection failed (HTTP 502)."""

    http_status = 502
    error_type = "upstream_error"
    hint = "retry in a moment; the operator can see which upstream failed in the audit log"


class UpstreamUnavailable(UpstreamError):
    """No healthy replica can take the request (HTTP 503)."""

    http_status = 503
    hint = "the model's servers are starting or unhealthy; retry in a moment"


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time (HTTP 504)."""

    http_status = 504
    hint = "retry with a smaller max_tokens, or ask the operator to raise upstreams[].timeout_s"


class KeyNotFound(PraiError, LookupError):
    """`prai keys revoke` got an id that is not in the key store."""

    exit_code = 2
    http_status = 404
    error_type = "not_found_error"
    hint = "run `prai keys list` to see the key ids"


class AuditTampered(PraiError):
    """`prai audit verify` found an edited, reordered or deleted audit record."""

    exit_code = 3
    http_status = 500
    error_type = "integrity_error"
    hint = "restore the audit database from a backup and investigate who changed it"


class StorageError(PraiError):
    """The gateway's database cannot be opened or written."""

    exit_code = 5
    http_status = 503
    error_type = "storage_error"
    hint = "check gateway.storage.url in kitchen.yaml and that the database is reachable"


__all__ = [
    "AdapterError",
    "AuditBacklogFull",
    "AuditTampered",
    "AuthenticationFailed",
    "BadRequest",
    "BodyTooLarge",
    "BudgetExceeded",
    "ConfigError",
    "EngineNotInstalled",
    "EngineStartError",
    "GatewayError",
    "KeyNotFound",
    "KeyStoreUnavailable",
    "LimitStoreUnavailable",
    "ModelError",
    "ModelNotAllowed",
    "ModelNotFound",
    "ModelNotLocal",
    "PortInUse",
    "PraiError",
    "RateLimited",
    "StorageError",
    "TasteTestFailed",
    "UnsupportedModel",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "UsageError",
]


# --- bundle ---------------------------------------------------------------------------
# Exit codes: 3 any integrity failure not listed below; 10 missing file, 11 extra file,
# 12 digest mismatch (corrupted), 13 size mismatch (truncated or grown), 14 manifest
# tampered/unreadable, 15 signature wrong or missing, 16 split part missing/corrupted,
# 17 unsafe path (traversal, absolute, symlink), 18 load destination refused (also a delta
# whose base the destination does not hold), 19 container registry: TLS, auth, refusal or a
# different digest (create and load), 9 software wheelhouse missing a wheel or not fitting the
# target Python/platform.


class BundleError(PraiError):
    """A bring-in bundle is not intact (HTTP 422)."""

    exit_code = 3
    http_status = 422
    error_type = "bundle_error"
    hint = "copy the bundle again from the original media, then run `prai bundle verify`"


class BundleMissingFile(BundleError):
    """A file the manifest lists is not in the bundle."""

    exit_code = 10
    hint = "copy the missing file from the original media (same relative path), then verify again"


class BundleExtraFile(BundleError):
    """The bundle holds a file its manifest does not list (rejected, like Zarf)."""

    exit_code = 11
    hint = (
        "remove the extra file from the bundle directory (nothing may be added after signing), "
        "or create the bundle again with it"
    )


class BundleDigestMismatch(BundleError):
    """A file's SHA-256 differs from the bundle manifest."""

    exit_code = 12
    hint = "copy the bundle again, then run `prai bundle verify`"


class BundleSizeMismatch(BundleError):
    """A file's size differs from the manifest (truncated copy, or a grown file)."""

    exit_code = 13
    hint = "the copy was cut short or changed: copy the file again and check free space on the media"


class BundleManifestError(BundleError):
    """The manifest is unreadable, or does not match SHA256SUMS or the expected root digest."""

    exit_code = 14
    hint = (
        "the manifest was changed or damaged after creation: take the bundle again from the "
        "connected side and compare the root digest written on the transfer form"
    )


class BundleImageLayoutError(BundleManifestError):
    """The bundle's ``images/`` OCI layout is unreadable or disagrees with the manifest's
    ``images[]`` (a broken ``index.json``, a manifest that is not JSON, an image missing
    from the index)."""

    hint = (
        "the images/ layout was damaged or edited after creation: take the bundle again (compare "
        "the root digest), or create it again with `prai bundle create --image …`"
    )


class BundleSignatureError(BundleError):
    """The manifest signature is missing, malformed or made with another key."""

    exit_code = 15
    hint = (
        "check that --key is the public key of whoever created the bundle; if it is, the "
        "manifest was changed: take the bundle again"
    )


class BundlePartError(BundleError):
    """A split part is missing, corrupted, or the parts do not reassemble."""

    exit_code = 16
    hint = "copy the named part again from the transfer media; all parts must sit in one directory"


class BundleUnsafePath(BundleError):
    """A path in the bundle escapes it (``..``, absolute path, symlink or special file)."""

    exit_code = 17
    hint = "do not use this bundle: take a fresh copy from the creator and report the incident"


class BundleLoadError(BundleError):
    """The load destination cannot take the bundle (permissions, layout, remote refusal)."""

    exit_code = 18
    hint = "fix the destination as described, then run the same `prai bundle load` again (it resumes)"


class BundleBaseMismatch(BundleLoadError):
    """A delta bundle's base is not what the destination holds (refused before any write)."""

    hint = (
        "load the base bundle the delta was made from (its root digest is in the message), or "
        "ask the connected side for a delta made --since this destination's import receipt"
    )


class BundleSoftwareError(BundleError):
    """PrAI's wheelhouse cannot be made (a wheel missing for the target) or does not fit
    the interpreter it is installed with (exit 9)."""

    exit_code = 9
    hint = (
        "create the bundle for the target's Python and platform (--python 3.11 --wheel-platform "
        "manylinux_2_28_x86_64), or install with that Python"
    )


class ImageRegistryError(BundleLoadError):
    """A container registry refused a request, failed TLS or auth, or answered other
    content than asked for (bundle create --image and bundle load)."""

    exit_code = 19
    hint = "fix the registry access as described, then run the same command again (it resumes)"


class ImageRegistryUnreachable(ImageRegistryError):
    """The registry could not be reached or the connection broke (a retry may succeed)."""


class PushInterrupted(ImageRegistryError):
    """The user stopped an image push (Ctrl-C); finished chunks stay in the registry."""

    exit_code = 130
    hint = "run the same command again: it skips what is there and continues cut-off uploads"


__all__ += ["ImageRegistryError", "ImageRegistryUnreachable", "PushInterrupted"]


# --- deploy (prai render) ---------------------------------------------------------------
# Exit codes: 20 any render failure not listed below; 21 image not internal or not pinned,
# 22 storageUri/PVC mismatch, 23 adapter rank above max_lora_rank, 24 adapter base model
# differs, 25 external hostname, 26 secret value in a plain field, 27 GPU does not fit,
# 28 schema validation failed, 29 CA bundle unusable, 30 output directory refused,
# 31 model or adapter facts unreadable, 32 model registry unreadable or a promoted version
# not renderable.


class DeployError(PraiError):
    """`prai render` cannot produce manifests that would work in the closed network."""

    exit_code = 20
    http_status = 422
    error_type = "deploy_error"
    hint = "fix the `cluster:` section of kitchen.yaml as described, then render again"


class ImageNotInternal(DeployError):
    """An image is not from the internal registry or is not pinned by digest."""

    exit_code = 21
    hint = (
        "mirror the image into the internal registry (oc-mirror with the rendered "
        "connected/imageset-config.yaml) and reference it as REGISTRY/REPO@sha256:DIGEST "
        "in cluster.images (seed §6: tags drift, digests do not)"
    )


class StorageMismatch(DeployError):
    """The InferenceService's storageUri does not point at the rendered PVC (or modelcar)."""

    exit_code = 22
    hint = (
        "storageUri must be pvc://<the PVC rendered in the same namespace>/<path> or the "
        "internal oci:// modelcar; check cluster.models[].storage (seed §4 Tips: path mismatch)"
    )


class AdapterRankTooLarge(DeployError):
    """An adapter's LoRA rank is above ``--max-lora-rank`` (vLLM refuses to load it)."""

    exit_code = 23
    hint = (
        "raise cluster.models[].vllm.max_lora_rank to at least the adapter's rank "
        "(vLLM accepts 1, 8, 16, 32, 64, 128, 256, 320, 512), or leave it unset to derive it"
    )


class AdapterBaseMismatch(DeployError):
    """An adapter was trained on another base model than the one served."""

    exit_code = 24
    hint = (
        "serve the adapter on the base model it was trained on (adapter_config.json "
        "base_model_name_or_path); if it is the same model under another name, list that "
        "name in cluster.models[].aliases"
    )


class ExternalHostname(DeployError):
    """A rendered env value or argument names a host outside the closed network."""

    exit_code = 25
    hint = (
        "use local paths (/mnt/models/...) and internal hosts only; add the site's internal "
        "DNS suffixes to cluster.internal_domains if the host is in fact internal"
    )


class SecretInPlainField(DeployError):
    """A secret value would land in a ConfigMap, an env value, an argument or metadata."""

    exit_code = 26
    hint = (
        "pass secrets through a Secret (valueFrom.secretKeyRef / envFrom), never in args, env "
        "values, ConfigMaps or annotations"
    )


class GpuDoesNotFit(DeployError):
    """Weights plus KV cache do not fit the GPU memory vLLM may use."""

    exit_code = 27
    hint = (
        "lower cluster.models[].vllm.max_model_len or max_num_seqs, raise tensor_parallel_size "
        "or gpu_memory_utilization, or use a GPU with more memory"
    )


class ManifestSchemaError(DeployError):
    """A rendered object does not validate against its schema."""

    exit_code = 28
    hint = (
        "this is a bug in PrAI's renderer or an unsupported value in cluster: report the "
        "object and field named above"
    )


class CaBundleError(DeployError):
    """The internal CA bundle is missing, not PEM, not a CA, or expired."""

    exit_code = 29
    hint = (
        "point cluster.ca_bundle at the PEM file of the internal root CA (the one that "
        "signed MinIO's and the registry's certificates); never disable TLS verification"
    )


class RenderOutputError(DeployError):
    """The output directory cannot be written, or holds something other than a render."""

    exit_code = 30
    hint = (
        "pass -o a new directory or one written by an earlier `prai render` (it holds "
        ".prai-render.json); PrAI never overwrites other files"
    )


class ModelFactsError(DeployError):
    """config.json or an adapter's adapter_config.json is missing or unreadable."""

    exit_code = 31
    hint = (
        "point cluster.models[].local_dir (and adapters[].local_dir) at the brought-in model "
        "and adapter directories (at least config.json / adapter_config.json)"
    )


class RegistryStateError(DeployError):
    """The model registry (`prai render --registry`) cannot be read, or a promoted adapter
    version cannot be served by the cluster (engine-side path not under /mnt/models, rank
    unknown)."""

    exit_code = 32
    hint = (
        "register the version with the path as the predictor sees it: `prai bundle load` the "
        "bundle onto the model's PVC, then `prai model register BUNDLE --version V --path "
        "/mnt/models/adapters/NAME-V`; check the URL given to --registry"
    )


__all__ += [
    "AdapterBaseMismatch",
    "AdapterRankTooLarge",
    "CaBundleError",
    "DeployError",
    "ExternalHostname",
    "GpuDoesNotFit",
    "ImageNotInternal",
    "ManifestSchemaError",
    "ModelFactsError",
    "RegistryStateError",
    "RenderOutputError",
    "SecretInPlainField",
    "StorageMismatch",
]


# --- guard ------------------------------------------------------------------------------


class GuardrailViolation(PraiError):
    """A guardrail policy blocks this prompt or answer (HTTP 400).

    The message names the policy and the detector ids (``pii.my_number``), never the
    matched text; ``detectors`` holds the ids for the audit record.
    """

    exit_code = 40
    http_status = 400
    error_type = "guardrail_violation"
    hint = (
        "remove the personal data, secret or instruction named by the detector and send "
        "again; operators can test text with `prai guard scan`"
    )
    detectors: list[str] = []  # noqa: RUF012 - set per instance by prai.guard.policy


class GuardInputError(PraiError):
    """A file or stream given to `prai guard scan` cannot be read as UTF-8 text."""

    exit_code = 41
    http_status = 400
    error_type = "invalid_request_error"
    hint = "pass a UTF-8 text file, or `-` to read standard input"


__all__ += ["GuardInputError", "GuardrailViolation"]


class GuardTokenPrompt(PraiError):
    """A guarded project sent token IDs (or prompt embeddings) instead of text (HTTP 400).

    The guardrails scan text; token IDs cannot be decoded without the model's tokenizer,
    so they are refused rather than passed on unchecked.
    """

    exit_code = 42
    http_status = 400
    error_type = "invalid_request_error"
    hint = (
        "send the prompt as text (a string or a list of strings); projects with a "
        "guard_policy do not accept token-ID prompts or prompt_embeds"
    )


__all__ += ["GuardTokenPrompt"]


class GuardTimeExceeded(PraiError):
    """Checking a prompt took longer than ``guard.max_scan_s`` (HTTP 413).

    The request is refused rather than sent on unchecked; the message gives the size and
    the limit, never the text.
    """

    exit_code = 43
    http_status = 413
    error_type = "invalid_request_error"
    hint = (
        "send a shorter prompt, or raise guard.max_scan_s in kitchen.yaml (the guard scans "
        "about 1 MB/s per core with names and addresses)"
    )


__all__ += ["GuardTimeExceeded"]


# --- bench and evals ---------------------------------------------------------------------


class BenchError(PraiError):
    """`prai bench` cannot run or read a benchmark."""

    exit_code = 50
    http_status = 400
    error_type = "bench_error"
    hint = "check the options with `prai bench --help` and run again"


class BenchTokenizerMissing(BenchError):
    """No local tokenizer: GuideLLM would try to download one from the hub."""

    hint = (
        "pass --tokenizer DIR (a local model directory with tokenizer.json or "
        "tokenizer_config.json, e.g. the directory `prai serve --model` uses) or --bundle DIR "
        "(a brought-in bundle); hub ids are never used in a closed network (seed §8)"
    )


class BenchEngineMissing(BenchError):
    """GuideLLM is not installed in this environment."""

    exit_code = 5
    hint = "install the bench extra: `bash scripts/install.sh cpu,bench` (GuideLLM, pinned)"


class BenchRunFailed(BenchError):
    """GuideLLM exited with an error or wrote no results."""

    exit_code = 51
    hint = (
        "read the GuideLLM log named above; check that --target answers "
        "(`curl TARGET/v1/models`), that --model is a served model name, and the API key"
    )


class BenchTargetError(BenchRunFailed):
    """The target of `prai bench`/`prai eval` is down, refuses the key or does not serve
    the model: found before any request is sent (exit 51)."""

    hint = "check --target, --model and the API key (`curl TARGET/v1/models`)"


class BenchResultError(BenchError):
    """A results file is missing, not JSON, or not a PrAI/GuideLLM benchmark result."""

    hint = "pass the output directory of `prai bench` (or its summary.json / benchmarks.json)"


class BenchRegression(BenchError):
    """`prai bench compare` or `prai eval --baseline` found a regression beyond the thresholds."""

    exit_code = 52
    hint = (
        "look at the rows marked REGRESSION; fix the change (model, adapter, runtime, node) "
        "or, if the new numbers are accepted, make the new run the baseline"
    )


class EvalSuiteError(PraiError, ValueError):
    """An eval suite file is invalid (exit 2)."""

    exit_code = 2
    http_status = 400
    error_type = "invalid_request_error"
    hint = "fix the named item/field of the suite (see docs/bench.md, `prai eval`) and run again"


__all__ += [
    "BenchEngineMissing",
    "BenchError",
    "BenchRegression",
    "BenchResultError",
    "BenchRunFailed",
    "BenchTargetError",
    "BenchTokenizerMissing",
    "EvalSuiteError",
]


class EvalFailed(BenchError):
    """`prai eval` without a baseline: at least one item failed its assertions."""

    exit_code = 53
    hint = (
        "read the failing items in the report; to gate only on new failures, pass the last "
        "accepted result with --baseline PREV.json"
    )


__all__ += ["EvalFailed"]


# --- lifecycle: model/adapter registry, promote, rollback (exit codes 60-69) -------------


class LifecycleError(PraiError):
    """Base of `prai model` errors (exit 60; HTTP 409 from the admin API)."""

    exit_code = 60
    http_status = 409
    error_type = "lifecycle_error"
    hint = "`prai model list` shows the aliases; `prai model show NAME` the registered versions"


class RegistryError(LifecycleError):
    """A registration or routing change the registry refuses (duplicate version, kind
    mismatch, a concurrent change)."""

    exit_code = 60


class VersionNotFound(LifecycleError, LookupError):
    """No such alias or version in the registry (exit 61)."""

    exit_code = 61
    http_status = 404
    error_type = "not_found_error"
    hint = "`prai model show NAME` lists the registered versions; register one with `prai model register`"


class PromotionRefused(LifecycleError):
    """A promotion gate failed (eval suite or bench comparison); nothing was switched (exit 62)."""

    exit_code = 62
    http_status = 422
    hint = (
        "read the failing items and the gate reports; bring in a fixed version as a new bundle "
        "and label, or promote without the gate if the change is accepted"
    )


class EngineUpdateFailed(LifecycleError):
    """Loading or unloading an adapter on a running vLLM failed (exit 63); the route was
    not switched."""

    exit_code = 63
    http_status = 502
    error_type = "upstream_error"
    hint = (
        "check that the engine runs with runtime LoRA updating (prai serve enables it; for vLLM "
        "set VLLM_ALLOW_RUNTIME_LORA_UPDATING=True), that --max-loras leaves room and that "
        "the adapter path exists on the engine's side"
    )


__all__ += ["EngineUpdateFailed", "LifecycleError", "PromotionRefused", "RegistryError", "VersionNotFound"]


# --- console and admin API (issue 17; exit codes 70-79) ----------------------------------


class ConsoleError(PraiError):
    """Base of admin API / console / `prai admin` errors (exit 70)."""

    exit_code = 70
    http_status = 400
    error_type = "invalid_request_error"
    hint = "`prai admin list-users` shows the console's users; docs/console.md describes the roles"


class AdminAuthRequired(ConsoleError):
    """No valid console session: not logged in, logged out, or the session expired (HTTP 401)."""

    http_status = 401
    error_type = "authentication_error"
    hint = "log in: POST /admin/session with username and password (or open /console/login)"


class AdminLoginFailed(ConsoleError):
    """Wrong username or password, or a disabled user (HTTP 401). The message never says which."""

    http_status = 401
    error_type = "authentication_error"
    hint = "check the username and password; an operator resets it with `prai admin reset-password NAME`"


class LoginThrottled(ConsoleError):
    """Too many failed logins for this user or from this address (HTTP 429)."""

    http_status = 429
    error_type = "rate_limit_error"
    hint = ("wait for the Retry-After seconds, or have an operator run `prai admin reset-password NAME` "
            "(it clears the user's failed logins); failed logins are in the audit log")

    def __init__(self, message: str, *, retry_after_s: float = 60.0, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after_s = retry_after_s
        self.headers = [(b"retry-after", str(max(1, int(retry_after_s + 0.999))).encode())]


class AdminForbidden(ConsoleError):
    """The user's role does not allow this action or this tenant (HTTP 403)."""

    http_status = 403
    error_type = "permission_error"
    hint = "ask a platform-admin; tenant-admins act on their own tenant only and auditors only read"


class CsrfRejected(ConsoleError):
    """A state-changing request without the session's CSRF token, or from another origin (HTTP 403)."""

    http_status = 403
    error_type = "permission_error"
    hint = "send the X-CSRF-Token header from GET /admin/session (the console's forms do it); reload the page"


class PasswordChangeRequired(ConsoleError):
    """The user logged in with a one-time password and must choose a new one first (HTTP 403)."""

    http_status = 403
    error_type = "permission_error"
    hint = "set a new password: POST /admin/session/password (the console asks for it after login)"


class AdminUserError(ConsoleError):
    """A console user cannot be created or changed as asked (exit 71)."""

    exit_code = 71
    hint = "run `prai admin create-user --help`; names are letters, digits, '.', '_', '-', '@'"


class AdminUserNotFound(ConsoleError, LookupError):
    """No console user of that name (exit 72, HTTP 404)."""

    exit_code = 72
    http_status = 404
    error_type = "not_found_error"
    hint = "`prai admin list-users` shows the console's users"


class ReportNotFound(ConsoleError, LookupError):
    """No bench or eval report with that id under the configured report directories (HTTP 404)."""

    exit_code = 72
    http_status = 404
    error_type = "not_found_error"
    hint = "GET /admin/checks/reports lists the reports found under gateway.console.reports_dirs"


__all__ += [
    "AdminAuthRequired",
    "AdminForbidden",
    "AdminLoginFailed",
    "AdminUserError",
    "AdminUserNotFound",
    "ConsoleError",
    "CsrfRejected",
    "LoginThrottled",
    "PasswordChangeRequired",
    "ReportNotFound",
]
