"""What `prai bench` will run: options, the local tokenizer, one GuideLLM scenario per run.

A *run* is one GuideLLM invocation against one served model name: the base model, each
adapter of ``--adapters``, or (``--adapter-mix``) the weighted mix sent through PrAI's
loopback mix router (:mod:`prai.bench.mixproxy`). The scenario dict is GuideLLM 0.8's
``BenchmarkScenario`` (``guidellm run --scenario FILE``; fields of
``guidellm.schemas.benchmark.entrypoints.BenchmarkArgs``), written beside the results so a
run can be repeated with GuideLLM alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from prai.errors import BenchTokenizerMissing, UsageError

Profile = Literal["synchronous", "concurrent", "constant", "poisson", "sweep", "throughput"]
PROFILES: tuple[str, ...] = ("synchronous", "concurrent", "constant", "poisson", "sweep", "throughput")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


@dataclass
class BenchOptions:
    """Everything `prai bench` was asked to do.

    Attributes:
        target: base URL of an OpenAI-compatible server (``http://host:8000`` or ``.../v1``).
        model: served model name of the base model.
        tokenizer_dir: local directory holding the model's tokenizer files.
        out_dir: output directory (created; runs under ``runs/NAME/``).
        api_key: Bearer key (gateway key); passed to GuideLLM through its environment,
            never written to disk.
        adapters: adapter served names, one run each (after the base run unless
            ``include_base`` is False).
        mix: adapter name -> weight (sum 1.0): one combined run through the mix router.
        profile: GuideLLM profile kind.
        rates: requests/s (constant, poisson), streams (concurrent), or ``[points]`` (sweep).
        max_seconds: per-benchmark duration limit (s).
        max_requests: per-benchmark request limit.
        warmup / cooldown: GuideLLM transient phases: < 1 a fraction, >= 1 seconds.
        data: one GuideLLM data source dict (:func:`prai.bench._spec.parse_data`).
        slo: GuideLLM GoodputSLO dict (``ttft_ms``, ``tpot_ms``, ``e2el_ms``).
        request_format: ``/v1/chat/completions`` (default) or ``/v1/completions``.
        ca_bundle: PEM file of CAs for an https target (TLS is always verified).
        request_timeout_s: per-request read timeout (s).
        include_base: also run the base model when adapters are given.
        seed: random seed for synthetic data and the mix router.
    """

    target: str
    model: str
    tokenizer_dir: Path
    out_dir: Path
    api_key: str | None = None
    adapters: list[str] = field(default_factory=list)
    mix: dict[str, float] = field(default_factory=dict)
    profile: str = "synchronous"
    rates: list[float] = field(default_factory=list)
    max_seconds: float | None = None
    max_requests: int | None = None
    warmup: float | None = None
    cooldown: float | None = None
    data: dict[str, Any] = field(
        default_factory=lambda: {"kind": "synthetic_text", "prompt_tokens": 256, "output_tokens": 128}
    )
    slo: dict[str, float] | None = None
    request_format: str = "/v1/chat/completions"
    ca_bundle: Path | None = None
    request_timeout_s: float | None = 300.0
    include_base: bool = True
    seed: int = 42

    def validate(self) -> None:
        """Reject bad combinations before anything runs.

        Raises:
            UsageError: unknown profile, missing rate, no limit, bad target.
        """
        if self.profile not in PROFILES:
            raise UsageError(f"--profile {self.profile!r}: choose one of {', '.join(PROFILES)}")
        if self.profile in ("constant", "poisson") and not self.rates:
            raise UsageError(f"--profile {self.profile} needs --rate (requests/s), e.g. --rate 2")
        if self.profile == "concurrent" and any(r != int(r) for r in self.rates):
            raise UsageError("--profile concurrent: --rate is the number of streams (whole numbers)")
        if self.max_seconds is None and self.max_requests is None:
            raise UsageError("give --max-seconds or --max-requests (a benchmark must end)")
        if not self.target.startswith(("http://", "https://")):
            raise UsageError(f"--target {self.target!r}: give an http:// or https:// URL")
        if self.ca_bundle is not None and not self.ca_bundle.is_file():
            raise UsageError(f"--ca-bundle {self.ca_bundle}: no such file")
        if self.request_format not in ("/v1/chat/completions", "/v1/completions"):
            raise UsageError("--request-format: /v1/chat/completions or /v1/completions")


@dataclass(frozen=True)
class RunSpec:
    """One GuideLLM run.

    Attributes:
        name: directory name under ``runs/`` (``base``, the adapter name, or ``mix``).
        model: the model name GuideLLM sends (for the mix: the base name, rewritten by
            the router per request).
        kind: ``base``, ``adapter`` or ``mix``.
        weights: for the mix, adapter -> weight.
    """

    name: str
    model: str
    kind: Literal["base", "adapter", "mix"]
    weights: dict[str, float] = field(default_factory=dict)


def plan_runs(opts: BenchOptions) -> list[RunSpec]:
    """The runs, in order: base (unless adapters only), each adapter, then the mix."""
    runs: list[RunSpec] = []
    if opts.include_base or not (opts.adapters or opts.mix):
        runs.append(RunSpec("base", opts.model, "base"))
    for name in opts.adapters:
        runs.append(RunSpec(_dirname(name), name, "adapter"))
    if opts.mix:
        runs.append(RunSpec("mix", opts.model, "mix", dict(opts.mix)))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise UsageError(f"two runs would share a directory name: {names}",
                         hint="adapters may not be called 'base' or 'mix'")
    return runs


def _dirname(name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip(".")
    return safe or "adapter"


def resolve_tokenizer(tokenizer: Path | None, bundle: Path | None) -> Path:
    """The local tokenizer directory, from ``--tokenizer DIR`` or ``--bundle DIR``.

    A bundle directory's model is found through its manifest
    (:func:`prai.bundle.read_manifest`: ``files[]`` with role ``model``); a loaded
    directory (``prai bundle load --to DEST``) has it at ``DEST/model``.

    Raises:
        BenchTokenizerMissing: neither given, or no tokenizer files in the directory.
    """
    if tokenizer is not None and bundle is not None:
        raise UsageError("give --tokenizer or --bundle, not both")
    if tokenizer is None and bundle is None:
        raise BenchTokenizerMissing("no tokenizer: --tokenizer or --bundle is required")
    if bundle is not None:
        tokenizer = _bundle_model_dir(bundle)
    assert tokenizer is not None
    if not tokenizer.is_dir():
        raise BenchTokenizerMissing(f"--tokenizer {tokenizer}: no such directory")
    if not any((tokenizer / f).is_file() for f in _TOKENIZER_FILES):
        raise BenchTokenizerMissing(
            f"{tokenizer} has no tokenizer files ({', '.join(_TOKENIZER_FILES)})"
        )
    return tokenizer.resolve()


def _bundle_model_dir(bundle: Path) -> Path:
    from prai.bundle import read_manifest

    if not bundle.exists():
        raise BenchTokenizerMissing(f"--bundle {bundle}: no such directory")
    if (bundle / "prai-bundle.json").is_file():
        manifest = read_manifest(bundle)
        model_files = [f.path for f in manifest.files if f.role == "model"]
        if not model_files:
            raise BenchTokenizerMissing(f"bundle {bundle} carries no model (no files with role 'model')")
        top = Path(model_files[0]).parts[0]
        return bundle / top
    if (bundle / "model").is_dir():
        return bundle / "model"
    raise BenchTokenizerMissing(
        f"--bundle {bundle}: neither a bundle directory (prai-bundle.json) nor a loaded one (model/)",
        hint="unpack or load the bundle first (`prai bundle load BUNDLE --to DIR`), then pass that DIR",
    )


def _profile(opts: BenchOptions) -> dict[str, Any]:
    p: dict[str, Any] = {"kind": opts.profile}
    if opts.profile in ("constant", "poisson"):
        p["rate"] = opts.rates
    elif opts.profile == "concurrent":
        p["streams"] = [int(r) for r in opts.rates] or [1]
    elif opts.profile == "sweep":
        p["sweep_size"] = max(2, int(opts.rates[0])) if opts.rates else 5
    if opts.warmup is not None:
        p["warmup"] = opts.warmup
    if opts.cooldown is not None:
        p["cooldown"] = opts.cooldown
    return p


def scenario_for(opts: BenchOptions, run: RunSpec, target: str, json_path: Path) -> dict[str, Any]:
    """GuideLLM scenario (``guidellm run --scenario``) for one run.

    Args:
        target: URL GuideLLM talks to (the real target, or the mix router's loopback URL).
        json_path: where GuideLLM writes its JSON report (kept untouched).

    The API key is not in it (GuideLLM reads it from ``GUIDELLM__SPEC__BACKEND__API_KEY``).
    """
    constraints: list[dict[str, Any]] = []
    if opts.max_seconds is not None:
        constraints.append({"kind": "max_duration", "seconds": opts.max_seconds})
    if opts.max_requests is not None:
        constraints.append({"kind": "max_requests", "count": opts.max_requests})
    backend: dict[str, Any] = {
        "kind": "openai_http",
        "target": target,
        "model": run.model,
        "request_format": opts.request_format,
        "verify": True,
        "timeout": opts.request_timeout_s,
    }
    metrics: dict[str, Any] = {"kind": "generative"}
    if opts.slo:
        metrics["slo"] = dict(opts.slo)
    return {
        "metadata": {"labels": {"prai_run": run.name, "prai_kind": run.kind, "model": run.model}},
        "spec": {
            "backend": backend,
            "profile": _profile(opts),
            "constraints": constraints,
            "tokenizer": {"kind": "huggingface_auto", "model": str(opts.tokenizer_dir)},
            "data": [opts.data],
            "seed": {"kind": "static", "value": opts.seed},
            "outputs": [{"kind": "json", "path": str(json_path)}],
            "metrics": metrics,
        },
    }
